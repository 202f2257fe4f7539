// Polygons (closed) and polylines (open): click to add vertices (Alt+click selects a shape instead). A polygon closes on a click on its first
// vertex, a double click or Enter; a polyline ends on a double click or Enter. Backspace removes the last
// vertex, Escape cancels. Selected shapes: drag a vertex to move it, drag the shape to move it.
import { isPolygon, type EditorRegion } from "../../editor/regions";
import { clampPoint, distance, nearPolyline, pointInPolygon, pointsBounds, round2, type Point } from "../../lib/geometry";
import { applyLook, dot, finishPath } from "../../stage/image/paint";
import { addRegion, newLabel } from "../shared/session";
import type { Draw, DrawSession, ImageToolSpec, Look, SessionContext, ToolPlugin } from "../types";

type Kind = "polygon" | "polyline";
const CLOSE_PX = 8;

function tracePath(d: Draw, points: readonly (readonly number[])[], closed: boolean): void {
  const { ctx } = d;
  ctx.beginPath();
  points.forEach((p, i) => (i === 0 ? ctx.moveTo(d.sx(p[0]!), d.sy(p[1]!)) : ctx.lineTo(d.sx(p[0]!), d.sy(p[1]!))));
  if (closed) ctx.closePath();
}

function distinctCount(points: readonly Point[]): number {
  return new Set(points.map((p) => `${p.x},${p.y}`)).size;
}

function lineSession(kind: Kind, ctx: SessionContext): DrawSession {
  const closed = kind === "polygon";
  const minimum = closed ? 3 : 2;
  let points: Point[] = [];
  let hover: Point | null = null;
  let label: string | null = null;
  const reset = () => {
    points = [];
    label = null;
  };
  const finish = () => {
    if (distinctCount(points) < minimum) {
      ctx.editor.notify(`A ${kind} needs at least ${minimum} points.`);
      return;
    }
    const shape = points.map((p) => [round2(p.x), round2(p.y)] as [number, number]);
    if (label) addRegion(ctx.editor, { type: kind, label, points: shape });
    ctx.editor.notify(null);
    reset();
  };
  return {
    down(p, e, hit) {
      if (points.length === 0 && hit && e.alt) return "select";
      if (points.length === 0) {
        label = newLabel(ctx.editor, kind);
        if (!label) return "consume";
      }
      if (e.clicks >= 2 && points.length > 0) {
        finish(); // the first click of the double click added the last vertex
        return "consume";
      }
      if (closed && points.length >= 3 && distance(p, points[0]!) <= ctx.tolerance(CLOSE_PX)) {
        finish();
        return "consume";
      }
      points.push(clampPoint(p, ctx.image));
      return "consume";
    },
    move(p) {
      hover = p;
    },
    up() {},
    key(e) {
      if (e.key === "Enter") finish();
      else if (e.key === "Escape") reset();
      else if (e.key === "Backspace" || e.key === "Delete") points.pop();
      else return false;
      return true;
    },
    busy: () => points.length > 0,
    cancel: reset,
    drawPreview(d) {
      if (points.length === 0) return;
      const color = ctx.editor.labels.find((l) => l.name === label)?.color ?? "#888";
      const look: Look = { color, selected: false, pending: true, invalid: false };
      applyLook(d, look);
      const path = [...points, ...(hover ? [hover] : [])].map((p) => [p.x, p.y]);
      tracePath(d, path, false);
      finishPath(d, look, false);
      points.forEach((p, i) => dot(d, p, i === 0 && closed ? 5 : 3.5, color, i === 0 && closed));
    },
    hint: () =>
      points.length === 0
        ? `Click to start a ${kind} (over other shapes too); Alt+click selects a shape`
        : closed
          ? "Click to add points; click the first point, double-click or Enter to close; Backspace removes the last point; Escape cancels"
          : "Click to add points; double-click or Enter to finish; Backspace removes the last point; Escape cancels",
  };
}

function spec(kind: Kind): ImageToolSpec {
  const closed = kind === "polygon";
  const mine = (r: EditorRegion) => isPolygon(r) && r.type === kind;
  return {
    bounds: (r) => (mine(r) && isPolygon(r) ? pointsBounds(r.points) : null),
    draw(d, r, look) {
      if (!isPolygon(r) || r.points.length === 0) return;
      applyLook(d, look);
      tracePath(d, r.points, closed);
      finishPath(d, look, closed);
    },
    hit(r, p, tol) {
      if (!isPolygon(r)) return false;
      return (closed && pointInPolygon(p, r.points)) || nearPolyline(p, r.points, tol, closed);
    },
    handles: (r) => (isPolygon(r) ? r.points.map(([x, y]) => ({ x, y })) : []),
    moveHandle(r, index, p, image) {
      if (!isPolygon(r)) return null;
      const q = clampPoint(p, image);
      return { points: r.points.map((pt, i) => (i === index ? [q.x, q.y] : pt)) };
    },
    translate(r, dx, dy, image) {
      if (!isPolygon(r)) return {};
      const b = pointsBounds(r.points);
      if (!b) return {};
      const mx = Math.min(Math.max(dx, -b.x), image.width - (b.x + b.w));
      const my = Math.min(Math.max(dy, -b.y), image.height - (b.y + b.h));
      return { points: r.points.map(([x, y]) => [round2(x + mx), round2(y + my)] as [number, number]) };
    },
    session: (ctx) => lineSession(kind, ctx),
  };
}

const describe = (r: EditorRegion) => (isPolygon(r) ? `${r.points.length} points` : r.type);

export const polygonTool: ToolPlugin = {
  name: "polygon",
  title: "Polygon",
  modalities: ["image"],
  placement: "stage",
  regionTypes: ["polygon"],
  usesLabels: true,
  key: "p",
  hint: "click vertices, close on the first one",
  image: spec("polygon"),
  describe,
};

export const polylineTool: ToolPlugin = {
  name: "polyline",
  title: "Polyline",
  modalities: ["image"],
  placement: "stage",
  regionTypes: ["polyline"],
  usesLabels: true,
  key: "l",
  hint: "click points, double-click or Enter to finish",
  image: spec("polyline"),
  describe,
};
