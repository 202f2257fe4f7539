// Keypoints with the skeleton of the label (schema labels[].keypoints and labels[].skeleton, COCO style).
// Click each keypoint in order (Shift+click: labelled but hidden, v=1); X marks the current one as not
// labelled (v=0); Enter finishes early; Backspace takes the last one back; Escape cancels. A label without
// keypoint names takes any number of points, finished with Enter.
import { isKeypoints } from "../../editor/regions";
import { clampPoint, distance, pointsBounds, round2, type Point } from "../../lib/geometry";
import type { LabelDef } from "../../lib/labels";
import { dot } from "../../stage/image/paint";
import { addRegion, newLabel } from "../shared/session";
import type { Draw, DrawSession, SessionContext, ToolPlugin } from "../types";

type Kp = [number, number, number];

function drawSkeleton(d: Draw, points: readonly Kp[], def: LabelDef | undefined, color: string, look: { selected: boolean; pending: boolean }): void {
  const { ctx } = d;
  ctx.strokeStyle = color;
  ctx.lineWidth = look.selected ? 2.5 : 1.75;
  ctx.setLineDash(look.pending ? [5, 4] : []);
  ctx.beginPath();
  for (const [a, b] of def?.skeleton ?? []) {
    const p = points[a - 1];
    const q = points[b - 1];
    if (!p || !q || p[2] === 0 || q[2] === 0) continue;
    ctx.moveTo(d.sx(p[0]), d.sy(p[1]));
    ctx.lineTo(d.sx(q[0]), d.sy(q[1]));
  }
  ctx.stroke();
  ctx.setLineDash([]);
  for (const p of points) if (p[2] > 0) dot(d, { x: p[0], y: p[1] }, look.selected ? 4.5 : 3.5, color, p[2] === 1);
}

function keypointSession(ctx: SessionContext): DrawSession {
  let points: Kp[] = [];
  let label: string | null = null;
  const def = () => ctx.editor.labels.find((l) => l.name === label);
  const reset = () => {
    points = [];
    label = null;
  };
  const finish = () => {
    const names = def()?.keypoints;
    if (names) while (points.length < names.length) points.push([0, 0, 0]);
    if (label && points.some((p) => p[2] > 0)) addRegion(ctx.editor, { type: "keypoints", label, points });
    reset();
  };
  const place = (p: Kp) => {
    points.push(p);
    const names = def()?.keypoints;
    if (names && points.length >= names.length) finish();
  };
  return {
    down(p, e, hit) {
      if (points.length === 0 && hit && e.alt) return "select";
      if (points.length === 0) {
        label = newLabel(ctx.editor, "keypoints");
        if (!label) return "consume";
      }
      const q = clampPoint(p, ctx.image);
      place([round2(q.x), round2(q.y), e.shift ? 1 : 2]);
      return "consume";
    },
    move() {},
    up() {},
    key(e) {
      if (e.key === "x" || e.key === "X") place([0, 0, 0]);
      else if (e.key === "Enter") finish();
      else if (e.key === "Escape") reset();
      else if (e.key === "Backspace" || e.key === "Delete") points.pop();
      else return false;
      return true;
    },
    busy: () => points.length > 0,
    cancel: reset,
    drawPreview(d) {
      if (points.length === 0) return;
      drawSkeleton(d, points, def(), def()?.color ?? "#888", { selected: false, pending: true });
    },
    hint() {
      const names = (label ? def() : ctx.editor.labels.find((l) => l.name === newLabel(ctx.editor, "keypoints")))?.keypoints;
      const next = names?.[points.length];
      if (!next) return points.length ? "Click to add keypoints; Enter finishes; Backspace takes one back; Escape cancels" : "Click to place keypoints";
      return `Click ${next} (${points.length + 1}/${names!.length}); Shift+click: hidden; X: not visible; Enter: finish; Escape: cancel`;
    },
  };
}

export const keypointsTool: ToolPlugin = {
  name: "keypoints",
  title: "Keypoints",
  modalities: ["image"],
  placement: "stage",
  regionTypes: ["keypoints"],
  usesLabels: true,
  key: "k",
  hint: "click each keypoint of the skeleton in order",
  image: {
    bounds: (r) => (isKeypoints(r) ? pointsBounds(r.points) : null),
    draw(d, r, look) {
      if (!isKeypoints(r)) return;
      drawSkeleton(d, r.points, look.def, look.color, look);
      if (look.invalid) {
        const b = pointsBounds(r.points);
        if (b) {
          d.ctx.strokeStyle = "#c62828";
          d.ctx.setLineDash([4, 3]);
          d.ctx.strokeRect(d.sx(b.x) - 6, d.sy(b.y) - 6, b.w * d.scale + 12, b.h * d.scale + 12);
          d.ctx.setLineDash([]);
        }
      }
    },
    hit(r, p, tol) {
      if (!isKeypoints(r)) return false;
      if (r.points.some((k) => k[2] > 0 && distance(p, { x: k[0], y: k[1] }) <= tol * 1.6)) return true;
      const b = pointsBounds(r.points);
      return !!b && p.x >= b.x - tol && p.x <= b.x + b.w + tol && p.y >= b.y - tol && p.y <= b.y + b.h + tol;
    },
    // unlabelled points have no handle (NaN never matches a click)
    handles: (r) => (isKeypoints(r) ? r.points.map(([x, y, v]): Point => (v > 0 ? { x, y } : { x: NaN, y: NaN })) : []),
    moveHandle(r, index, p, image) {
      if (!isKeypoints(r)) return null;
      const q = clampPoint(p, image);
      return { points: r.points.map((k, i) => (i === index ? [q.x, q.y, k[2] || 2] : k)) };
    },
    translate(r, dx, dy, image) {
      if (!isKeypoints(r)) return {};
      const b = pointsBounds(r.points);
      if (!b) return {};
      const mx = Math.min(Math.max(dx, -b.x), image.width - (b.x + b.w));
      const my = Math.min(Math.max(dy, -b.y), image.height - (b.y + b.h));
      return { points: r.points.map(([x, y, v]) => (v > 0 ? [round2(x + mx), round2(y + my), v] : [x, y, v]) as Kp) };
    },
    session: keypointSession,
  },
  describe: (r) => (isKeypoints(r) ? `${r.points.filter((p) => p[2] > 0).length}/${r.points.length} keypoints` : r.type),
};

