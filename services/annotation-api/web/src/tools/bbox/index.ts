import { isBbox } from "../../editor/regions";
import { boxFromPoints, clampBox, moveBox, resizeBox, type Box, type Handle, type Point } from "../../lib/geometry";
import { applyLook, finishPath } from "../../stage/image/paint";
import { addRegion, newLabel } from "../shared/session";
import type { DrawSession, SessionContext, ToolPlugin } from "../types";

const HANDLES: readonly Handle[] = ["nw", "ne", "sw", "se"];
/** Boxes smaller than this on screen (px) are clicks, not drags. */
const MIN_SCREEN_PX = 3;

function corners(b: Box): Point[] {
  return [
    { x: b.x, y: b.y },
    { x: b.x + b.w, y: b.y },
    { x: b.x, y: b.y + b.h },
    { x: b.x + b.w, y: b.y + b.h },
  ];
}

/** Drag to draw a box with the active label; a click selects the region under the mouse. */
function boxSession(ctx: SessionContext): DrawSession {
  let from: Point | null = null;
  let to: Point | null = null;
  const box = () => clampBox(boxFromPoints(from!, to!), ctx.image);
  return {
    down(p) {
      from = p;
      to = p;
      return "consume";
    },
    move(p) {
      if (from) to = p;
    },
    up(p) {
      if (!from) return;
      to = p;
      const b = box();
      from = to = null;
      const min = ctx.tolerance(MIN_SCREEN_PX);
      if (b.w < min || b.h < min) {
        ctx.selectAt(p);
        return;
      }
      const label = newLabel(ctx.editor, "bbox");
      if (label) addRegion(ctx.editor, { type: "bbox", label, ...b });
    },
    key(e) {
      if (e.key !== "Escape") return false;
      from = to = null;
      return true;
    },
    busy: () => from !== null,
    cancel() {
      from = to = null;
    },
    drawPreview(d) {
      if (!from || !to) return;
      const b = box();
      const color = ctx.editor.labels.find((l) => l.name === newLabel(ctx.editor, "bbox"))?.color ?? "#888";
      applyLook(d, { color, selected: false, pending: true, invalid: false });
      d.ctx.beginPath();
      d.ctx.rect(d.sx(b.x), d.sy(b.y), b.w * d.scale, b.h * d.scale);
      finishPath(d, { color, selected: false, pending: true, invalid: false }, true);
    },
    hint: () => "Drag to draw a box; click a box to select it, drag it to move, drag its corners to resize",
  };
}

export const bboxTool: ToolPlugin = {
  name: "bbox",
  title: "Bounding box",
  modalities: ["image"],
  placement: "stage",
  regionTypes: ["bbox"],
  usesLabels: true,
  key: "b",
  hint: "drag to draw",
  image: {
    bounds: (r) => (isBbox(r) ? { x: r.x, y: r.y, w: r.w, h: r.h } : null),
    draw(d, r, look) {
      if (!isBbox(r)) return;
      applyLook(d, look);
      d.ctx.beginPath();
      d.ctx.rect(d.sx(r.x), d.sy(r.y), r.w * d.scale, r.h * d.scale);
      finishPath(d, look, true);
    },
    hit(r, p, tol) {
      return isBbox(r) && p.x >= r.x - tol && p.x <= r.x + r.w + tol && p.y >= r.y - tol && p.y <= r.y + r.h + tol;
    },
    handles: (r) => (isBbox(r) ? corners(r) : []),
    moveHandle(r, index, p, image) {
      if (!isBbox(r)) return null;
      const b = resizeBox(r, HANDLES[index]!, p, image);
      return b.w > 0 && b.h > 0 ? { ...b } : null;
    },
    translate(r, dx, dy, image) {
      if (!isBbox(r)) return {};
      const { x, y } = moveBox(r, dx, dy, image);
      return { x, y };
    },
    session: boxSession,
  },
  describe: (r) => (isBbox(r) ? `${Math.round(r.w)}×${Math.round(r.h)} at ${Math.round(r.x)},${Math.round(r.y)}` : r.type),
};
