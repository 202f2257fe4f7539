// Zoom and pan of the image stage. The canvas shows the whole image at zoom 1 (its CSS size has the image's
// aspect ratio); at zoom z it shows an image window of (width / z) x (height / z) pixels whose top-left corner
// is (ox, oy). Pure functions, so the stage and the tests share them.
import type { Box, Point, Size } from "../../lib/geometry";

export interface View {
  zoom: number;
  ox: number;
  oy: number;
}

/** At most this many screen pixels per image pixel. */
export const MAX_PIXEL_ZOOM = 32;

export const FIT: View = { zoom: 1, ox: 0, oy: 0 };

export function visibleBox(view: View, image: Size): Box {
  return { x: view.ox, y: view.oy, w: image.width / view.zoom, h: image.height / view.zoom };
}

/** Keep the window inside the image. */
export function clampView(view: View, image: Size, maxZoom: number): View {
  const zoom = Math.min(Math.max(1, view.zoom), Math.max(1, maxZoom));
  const w = image.width / zoom;
  const h = image.height / zoom;
  return {
    zoom,
    ox: Math.min(Math.max(0, view.ox), image.width - w),
    oy: Math.min(Math.max(0, view.oy), image.height - h),
  };
}

/** The largest useful zoom for a canvas `cssWidth` wide. */
export function maxZoomFor(image: Size, cssWidth: number): number {
  return cssWidth > 0 ? Math.max(1, (MAX_PIXEL_ZOOM * image.width) / cssWidth) : MAX_PIXEL_ZOOM;
}

/** The image point under a screen point (fx, fy: 0..1 across the canvas). */
export function imageAt(view: View, image: Size, fx: number, fy: number): Point {
  return { x: view.ox + (fx * image.width) / view.zoom, y: view.oy + (fy * image.height) / view.zoom };
}

/** Zoom by `factor` keeping the image point under (fx, fy) where it is on screen. */
export function zoomAt(view: View, image: Size, fx: number, fy: number, factor: number, maxZoom: number): View {
  const anchor = imageAt(view, image, fx, fy);
  const zoom = Math.min(Math.max(1, view.zoom * factor), Math.max(1, maxZoom));
  return clampView({ zoom, ox: anchor.x - (fx * image.width) / zoom, oy: anchor.y - (fy * image.height) / zoom }, image, maxZoom);
}

/** Pan by a fraction of the canvas (dfx, dfy), e.g. a mouse drag of dx CSS pixels is dx / cssWidth. */
export function panBy(view: View, image: Size, dfx: number, dfy: number, maxZoom: number): View {
  return clampView({ zoom: view.zoom, ox: view.ox - (dfx * image.width) / view.zoom, oy: view.oy - (dfy * image.height) / view.zoom }, image, maxZoom);
}
