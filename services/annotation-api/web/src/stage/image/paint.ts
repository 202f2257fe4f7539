// Shared canvas painting: region outlines in their look, handles, label tags.
import type { Box, Point } from "../../lib/geometry";
import type { Draw, Look } from "../../tools/types";

const DANGER = "#c62828";

/** Stroke and fill styles of a region outline. */
export function applyLook(d: Draw, look: Look): void {
  const { ctx } = d;
  ctx.strokeStyle = look.color;
  ctx.lineWidth = look.selected ? 2.5 : 1.75;
  ctx.setLineDash(look.pending ? [6, 4] : []);
  ctx.fillStyle = look.color;
}

/** Outline (and for a selected or invalid region, a tint or a red halo) of the current path. */
export function finishPath(d: Draw, look: Look, closed: boolean): void {
  const { ctx } = d;
  if (closed && look.selected) {
    ctx.globalAlpha = 0.18;
    ctx.fill();
    ctx.globalAlpha = 1;
  }
  if (look.invalid) {
    ctx.save();
    ctx.strokeStyle = DANGER;
    ctx.lineWidth = 5;
    ctx.setLineDash([4, 3]);
    ctx.stroke();
    ctx.restore();
  }
  ctx.stroke();
  ctx.setLineDash([]);
}

export function drawHandles(d: Draw, points: readonly Point[], size: number): void {
  const { ctx } = d;
  ctx.setLineDash([]);
  ctx.lineWidth = 1;
  ctx.fillStyle = "#ffffff";
  ctx.strokeStyle = "#333333";
  for (const p of points) {
    const x = d.sx(p.x) - size / 2;
    const y = d.sy(p.y) - size / 2;
    ctx.fillRect(x, y, size, size);
    ctx.strokeRect(x, y, size, size);
  }
}

/** The label tag above a region's box (inside it at the top edge of the canvas). */
export function drawTag(d: Draw, b: Box, text: string, color: string): void {
  const { ctx } = d;
  ctx.font = "11px system-ui, sans-serif";
  const w = ctx.measureText(text).width + 8;
  const x = Math.max(0, d.sx(b.x));
  let y = d.sy(b.y) - 15;
  if (y < 0) y = d.sy(b.y) + 1;
  ctx.fillStyle = color;
  ctx.fillRect(x, y, w, 15);
  ctx.fillStyle = "#ffffff";
  ctx.fillText(text, x + 4, y + 11);
}

/** A filled dot (keypoints, polygon vertices in progress). */
export function dot(d: Draw, p: Point, radius: number, fill: string, hollow = false): void {
  const { ctx } = d;
  ctx.beginPath();
  ctx.arc(d.sx(p.x), d.sy(p.y), radius, 0, Math.PI * 2);
  if (hollow) {
    ctx.fillStyle = "#ffffff";
    ctx.fill();
    ctx.strokeStyle = fill;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  } else {
    ctx.fillStyle = fill;
    ctx.fill();
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1;
    ctx.stroke();
  }
}
