// Box geometry. Regions are stored in pixels of the ORIGINAL image; the screen shows a scaled copy.

export interface Point {
  x: number;
  y: number;
}
export interface Size {
  width: number;
  height: number;
}
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
/** The displayed image on screen (a DOMRect is one). */
export interface ScreenRect {
  left: number;
  top: number;
  width: number;
  height: number;
}
export type Handle = "nw" | "ne" | "sw" | "se";

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
export const round2 = (v: number) => Math.round(v * 100) / 100;

/** Screen (client) coordinates -> original image pixels, clamped to the image. */
export function clientToImage(client: Point, rect: ScreenRect, image: Size): Point {
  const sx = rect.width > 0 ? image.width / rect.width : 1;
  const sy = rect.height > 0 ? image.height / rect.height : 1;
  return {
    x: clamp((client.x - rect.left) * sx, 0, image.width),
    y: clamp((client.y - rect.top) * sy, 0, image.height),
  };
}

/** Original image pixels -> screen (client) coordinates. */
export function imageToClient(p: Point, rect: ScreenRect, image: Size): Point {
  return {
    x: rect.left + (image.width > 0 ? (p.x * rect.width) / image.width : 0),
    y: rect.top + (image.height > 0 ? (p.y * rect.height) / image.height : 0),
  };
}

/** A box as percentages of the image, for CSS positioning over the displayed image. */
export function boxToPercent(box: Box, image: Size): { left: string; top: string; width: string; height: string } {
  const pct = (v: number, total: number) => `${total > 0 ? (v / total) * 100 : 0}%`;
  return { left: pct(box.x, image.width), top: pct(box.y, image.height), width: pct(box.w, image.width), height: pct(box.h, image.height) };
}

/** The box spanned by two corners, in any drag direction. */
export function boxFromPoints(a: Point, b: Point): Box {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
}

/** Keep a box inside the image (shrinking it if it sticks out), coordinates rounded to 0.01 px. */
export function clampBox(box: Box, image: Size): Box {
  const x = clamp(box.x, 0, image.width);
  const y = clamp(box.y, 0, image.height);
  return {
    x: round2(x),
    y: round2(y),
    w: round2(clamp(box.x + box.w, 0, image.width) - x),
    h: round2(clamp(box.y + box.h, 0, image.height) - y),
  };
}

/** Move a box by (dx, dy) image pixels, keeping its size and staying inside the image. */
export function moveBox(box: Box, dx: number, dy: number, image: Size): Box {
  return {
    x: round2(clamp(box.x + dx, 0, Math.max(0, image.width - box.w))),
    y: round2(clamp(box.y + dy, 0, Math.max(0, image.height - box.h))),
    w: box.w,
    h: box.h,
  };
}

/** Drag one corner of a box to `to` (image pixels); the opposite corner stays put. */
export function resizeBox(box: Box, handle: Handle, to: Point, image: Size): Box {
  const fixed: Point = {
    x: handle === "nw" || handle === "sw" ? box.x + box.w : box.x,
    y: handle === "nw" || handle === "ne" ? box.y + box.h : box.y,
  };
  return clampBox(boxFromPoints(fixed, to), image);
}

/** Size of an image-space box on screen, to ignore clicks that were not meant as drags. */
export function screenSize(box: Box, rect: ScreenRect, image: Size): Size {
  return {
    width: image.width > 0 ? (box.w * rect.width) / image.width : 0,
    height: image.height > 0 ? (box.h * rect.height) / image.height : 0,
  };
}
