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

// -- points, polygons and lines (image pixels) ------------------------------------------------------

export function clampPoint(p: Point, image: Size): Point {
  return { x: round2(clamp(p.x, 0, image.width)), y: round2(clamp(p.y, 0, image.height)) };
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** Distance from p to the segment ab. */
export function distanceToSegment(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0, 1);
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/** Even-odd rule. */
export function pointInPolygon(p: Point, points: readonly (readonly number[])[]): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i] as [number, number];
    const [xj, yj] = points[j] as [number, number];
    if (yi > p.y !== yj > p.y && p.x < ((xj - xi) * (p.y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether p is within tol of the line through points (closed: also the last-to-first edge). */
export function nearPolyline(p: Point, points: readonly (readonly number[])[], tol: number, closed: boolean): boolean {
  const n = points.length;
  for (let i = 0; i < n - (closed ? 0 : 1); i++) {
    const [ax, ay] = points[i] as [number, number];
    const [bx, by] = points[(i + 1) % n] as [number, number];
    if (distanceToSegment(p, { x: ax, y: ay }, { x: bx, y: by }) <= tol) return true;
  }
  return n === 1 && distance(p, { x: (points[0] as number[])[0]!, y: (points[0] as number[])[1]! }) <= tol;
}

/** The bounding box of some points (only those with v > 0 when they carry a visibility). */
export function pointsBounds(points: readonly (readonly number[])[]): Box | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const p of points) {
    if (p.length > 2 && !(p[2]! > 0)) continue;
    x0 = Math.min(x0, p[0]!);
    y0 = Math.min(y0, p[1]!);
    x1 = Math.max(x1, p[0]!);
    y1 = Math.max(y1, p[1]!);
  }
  return x0 === Infinity ? null : { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

export function boxesIntersect(a: Box, b: Box): boolean {
  return a.x <= b.x + b.w && b.x <= a.x + a.w && a.y <= b.y + b.h && b.y <= a.y + a.h;
}
