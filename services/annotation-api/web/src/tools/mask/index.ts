// Brush masks stored as COCO RLE (lib/rle.ts). Drag to paint with the active label (into the selected mask
// when one is selected, else a new one); Shift+drag erases from the selected mask; [ and ] change the brush.
// Masks are shown from a reduced copy (at most 2048 pixels a side), built once per mask version.
import { isMask, newRegionId, type EditorRegion } from "../../editor/regions";
import { type Point, type Size } from "../../lib/geometry";
import { decodeRle, emptyBitmap, encodeRle, paintDisc, paintStroke, rleArea, rleBounds, type Bitmap, type CocoRle } from "../../lib/rle";
import { newLabel } from "../shared/session";
import type { Draw, DrawSession, EditorApi, SessionContext, ToolPlugin } from "../types";

const DISPLAY_MAX = 2048;

interface MaskView {
  counts: CocoRle["counts"];
  /** Display pixels per image pixel. */
  k: number;
  width: number;
  height: number;
  /** Row-major, display resolution: 1 inside. */
  low: Uint8Array;
  /** The mask painted in a label colour, per colour. */
  canvases: Map<string, HTMLCanvasElement | null>;
}

const views = new WeakMap<EditorRegion, MaskView>();
/** The display of the last stroke, reused for the region object the reducer makes from it. */
let carry: { id: string; view: MaskView } | null = null;

function displayScale(image: Size): number {
  return Math.min(1, DISPLAY_MAX / Math.max(image.width, image.height));
}

function lowRes(bitmap: Bitmap, k: number): { low: Uint8Array; width: number; height: number } {
  const width = Math.max(1, Math.ceil(bitmap.width * k));
  const height = Math.max(1, Math.ceil(bitmap.height * k));
  const low = new Uint8Array(width * height);
  const h = bitmap.height;
  for (let lx = 0; lx < width; lx++) {
    const x = Math.min(bitmap.width - 1, Math.floor(lx / k));
    const column = x * h;
    for (let ly = 0; ly < height; ly++) {
      if (bitmap.data[column + Math.min(h - 1, Math.floor(ly / k))]) low[ly * width + lx] = 1;
    }
  }
  return { low, width, height };
}

function paintCanvas(low: Uint8Array, width: number, height: number, color: string): HTMLCanvasElement | null {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext?.("2d") as CanvasRenderingContext2D | null;
  if (!ctx) return null;
  const [r, g, b] = rgb(color);
  const data = ctx.createImageData(width, height);
  for (let i = 0; i < low.length; i++) {
    if (!low[i]) continue;
    data.data[i * 4] = r;
    data.data[i * 4 + 1] = g;
    data.data[i * 4 + 2] = b;
    data.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(data, 0, 0);
  return canvas;
}

function rgb(color: string): [number, number, number] {
  const m = /^#?([0-9a-f]{6})$/i.exec(color.trim());
  const n = m ? parseInt(m[1]!, 16) : 0x888888;
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function viewOf(r: EditorRegion): MaskView | null {
  if (!isMask(r)) return null;
  const known = views.get(r);
  if (known) return known;
  if (carry && carry.id === r.id && carry.view.counts === r.rle.counts) {
    views.set(r, carry.view);
    return carry.view;
  }
  const bitmap = decodeRle(r.rle);
  const k = displayScale(bitmap);
  const { low, width, height } = lowRes(bitmap, k);
  const view: MaskView = { counts: r.rle.counts, k, width, height, low, canvases: new Map() };
  views.set(r, view);
  return view;
}

function canvasOf(view: MaskView, color: string): HTMLCanvasElement | null {
  if (!view.canvases.has(color)) view.canvases.set(color, paintCanvas(view.low, view.width, view.height, color));
  return view.canvases.get(color) ?? null;
}

function blit(d: Draw, canvas: HTMLCanvasElement, k: number, alpha: number): void {
  const { ctx, visible: v } = d;
  ctx.globalAlpha = alpha;
  const smoothing = ctx.imageSmoothingEnabled;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(canvas, v.x * k, v.y * k, v.w * k, v.h * k, 0, 0, v.w * d.scale, v.h * d.scale);
  ctx.imageSmoothingEnabled = smoothing;
  ctx.globalAlpha = 1;
}

interface BrushState {
  radius: number;
}
export function brushRadius(editor: EditorApi, image: Size): number {
  return editor.toolState<BrushState>("mask")?.radius ?? Math.max(2, Math.round(Math.min(image.width, image.height) / 80));
}

function brushSession(ctx: SessionContext): DrawSession {
  const { image, editor } = ctx;
  const k = displayScale(image);
  let stroke: { bitmap: Bitmap; value: 0 | 1; last: Point; target: EditorRegion | null; label: string; live: HTMLCanvasElement | null; color: string } | null = null;
  let hover: Point | null = null;

  const liveDot = (a: Point, b: Point) => {
    const live = stroke?.live;
    const c = live?.getContext("2d");
    if (!c || !stroke) return;
    const r = brushRadius(editor, image) * k;
    c.globalCompositeOperation = stroke.value ? "source-over" : "destination-out";
    c.strokeStyle = c.fillStyle = stroke.color;
    c.lineWidth = 2 * r;
    c.lineCap = "round";
    c.beginPath();
    c.moveTo(a.x * k, a.y * k);
    c.lineTo(b.x * k + 0.01, b.y * k);
    c.stroke();
  };

  return {
    down(p, e) {
      const sel = editor.selectedId();
      const selected = sel ? editor.regions().find((r) => r.id === sel) : undefined;
      const target = selected && isMask(selected) && selected.rle.size[0] === image.height && selected.rle.size[1] === image.width ? selected : null;
      if (e.shift && !target) {
        editor.notify("Select a mask first to erase from it.");
        return "consume";
      }
      const label = target?.label ?? newLabel(editor, "mask");
      if (!label) return "consume";
      const color = editor.labels.find((l) => l.name === label)?.color ?? "#888888";
      const bitmap = target && isMask(target) ? decodeRle(target.rle) : emptyBitmap(image.width, image.height);
      let live: HTMLCanvasElement | null = document.createElement("canvas");
      live.width = Math.max(1, Math.ceil(image.width * k));
      live.height = Math.max(1, Math.ceil(image.height * k));
      const lc = live.getContext?.("2d") as CanvasRenderingContext2D | null;
      if (!lc) live = null;
      else if (target) {
        const v = viewOf(target);
        const c = v && canvasOf(v, color);
        if (c) lc.drawImage(c, 0, 0);
      }
      stroke = { bitmap, value: e.shift ? 0 : 1, last: p, target, label, live, color };
      paintDisc(bitmap, p.x, p.y, brushRadius(editor, image), stroke.value);
      liveDot(p, p);
      return "consume";
    },
    move(p) {
      hover = p;
      if (!stroke) return;
      paintStroke(stroke.bitmap, stroke.last, p, brushRadius(editor, image), stroke.value);
      liveDot(stroke.last, p);
      stroke.last = p;
    },
    up() {
      if (!stroke) return;
      const { bitmap, target, label, live, color } = stroke;
      stroke = null;
      const rle = encodeRle(bitmap);
      const empty = rleArea(rle) === 0;
      const id = target?.id ?? newRegionId();
      const { low, width, height } = lowRes(bitmap, k);
      carry = { id, view: { counts: rle.counts, k, width, height, low, canvases: new Map([[color, live ?? paintCanvas(low, width, height, color)]]) } };
      if (target) {
        if (empty) editor.dispatch({ type: "remove", id });
        else editor.dispatch({ type: "update", id, patch: { rle } });
      } else if (!empty) {
        editor.dispatch({ type: "add", region: { type: "mask", id, label, rle } });
        editor.select(id);
      }
    },
    key(e) {
      if (e.key !== "Escape") return false;
      stroke = null;
      return true;
    },
    busy: () => stroke !== null,
    cancel() {
      stroke = null;
    },
    drawPreview(d) {
      if (stroke?.live) blit(d, stroke.live, k, 0.5);
      if (!hover) return;
      const { ctx } = d;
      ctx.beginPath();
      ctx.arc(d.sx(hover.x), d.sy(hover.y), brushRadius(editor, image) * d.scale, 0, Math.PI * 2);
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 2.5;
      ctx.stroke();
      ctx.strokeStyle = "#222222";
      ctx.lineWidth = 1;
      ctx.stroke();
    },
    hint: () => "Drag to paint (into the selected mask, else a new one); Shift+drag erases; [ and ] change the brush size",
    cursor: "none",
  };
}

export const maskTool: ToolPlugin = {
  name: "mask",
  title: "Brush mask",
  modalities: ["image"],
  placement: "stage",
  regionTypes: ["mask"],
  usesLabels: true,
  key: "m",
  hint: "paint with the brush (stored as COCO RLE)",
  image: {
    bounds: (r) => (isMask(r) ? rleBounds(r.rle) : null),
    draw(d, r, look) {
      const v = viewOf(r);
      const canvas = v && canvasOf(v, look.color);
      if (!v || !canvas) return;
      blit(d, canvas, v.k, look.pending ? 0.3 : look.selected ? 0.6 : 0.45);
      const b = isMask(r) ? rleBounds(r.rle) : null;
      if (b && (look.selected || look.invalid)) {
        d.ctx.strokeStyle = look.invalid ? "#c62828" : look.color;
        d.ctx.lineWidth = 1.5;
        d.ctx.setLineDash([5, 4]);
        d.ctx.strokeRect(d.sx(b.x), d.sy(b.y), b.w * d.scale, b.h * d.scale);
        d.ctx.setLineDash([]);
      }
    },
    hit(r, p) {
      const v = viewOf(r);
      if (!v) return false;
      const x = Math.floor(p.x * v.k);
      const y = Math.floor(p.y * v.k);
      return x >= 0 && y >= 0 && x < v.width && y < v.height && v.low[y * v.width + x] === 1;
    },
    session: brushSession,
  },
  shortcuts: () =>
    (["[", "]"] as const).map((key) => ({
      keys: key,
      combo: { key },
      description: key === "[" ? "Smaller brush" : "Larger brush",
      repeat: true,
      run(editor) {
        const item = editor.task.item;
        const image = { width: item.width ?? 0, height: item.height ?? 0 };
        const radius = brushRadius(editor, image);
        const next = key === "[" ? Math.max(1, Math.round(radius / 1.25)) : Math.min(500, Math.round(radius * 1.25) + 1);
        editor.setToolState("mask", { radius: next });
        editor.notify(`Brush radius ${next} px`);
      },
    })),
  describe: (r) => (isMask(r) ? `${rleArea(r.rle)} px` : r.type),
};
