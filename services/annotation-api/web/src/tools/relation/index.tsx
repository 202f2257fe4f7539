// Relations between two regions: {"type": "relation", "label", "from": id, "to": id}.
// Keyboard: select a region, press R, select the target (. and , cycle through regions, or click it), press R
// again. Mouse: with this tool current, click the source, then the target. Escape cancels.
import { useLayoutEffect, useState } from "react";
import { isRelation, type EditorRegion } from "../../editor/regions";
import { distanceToSegment, type Box, type Point } from "../../lib/geometry";
import { labelColor, labelForTool } from "../../lib/labels";
import { addRegion } from "../shared/session";
import type { Draw, DrawSession, EditorApi, SessionContext, TextOverlayProps, ToolPlugin } from "../types";

export const RELATION = "relation";
export interface Linking {
  from: string;
}

const center = (b: Box): Point => ({ x: b.x + b.w / 2, y: b.y + b.h / 2 });
const nameOf = (r: EditorRegion | undefined) => (r ? `${r.label ?? r.type}` : "?");

/** Start linking from the selected region, or finish the link on it. */
export function linkStep(editor: EditorApi, target: string | null = editor.selectedId()): void {
  const regions = editor.regions();
  const linking = editor.toolState<Linking>(RELATION);
  const region = target ? regions.find((r) => r.id === target) : undefined;
  if (!linking) {
    if (!region || isRelation(region)) {
      editor.notify("Select a region first, then press R to link it to another one.");
      return;
    }
    editor.setToolState(RELATION, { from: region.id });
    editor.notify(`Linking from ${nameOf(region)}: select the target (click it, or . and ,), then press R. Escape cancels.`);
    return;
  }
  if (!region || region.id === linking.from || isRelation(region)) {
    editor.notify("Select another region as the target, then press R (Escape cancels).");
    return;
  }
  const label = labelForTool(editor.labels, RELATION, editor.activeLabel());
  editor.setToolState(RELATION, undefined);
  if (!label) {
    editor.notify("No label of the schema is for relations.");
    return;
  }
  const duplicate = regions.some((r) => isRelation(r) && r.from === linking.from && r.to === region.id && r.label === label);
  if (!duplicate) addRegion(editor, { type: RELATION, label, from: linking.from, to: region.id });
  editor.notify(null);
}

function relationSession(ctx: SessionContext): DrawSession {
  return {
    down(_p, _e, hit) {
      if (!hit || isRelation(hit)) {
        ctx.editor.setToolState(RELATION, undefined);
        return "select";
      }
      if (!ctx.editor.toolState<Linking>(RELATION)) ctx.editor.select(hit.id);
      linkStep(ctx.editor, hit.id);
      return "consume";
    },
    move() {},
    up() {},
    busy: () => false,
    cancel() {},
    hint: () => "Click the source region, then the target",
  };
}

function arrow(d: Draw, a: Point, b: Point, color: string, width: number, dashed: boolean): void {
  const { ctx } = d;
  const [x1, y1, x2, y2] = [d.sx(a.x), d.sy(a.y), d.sx(b.x), d.sy(b.y)];
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = width;
  ctx.setLineDash(dashed ? [6, 4] : []);
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
  ctx.setLineDash([]);
  const angle = Math.atan2(y2 - y1, x2 - x1);
  ctx.beginPath();
  ctx.moveTo(x2, y2);
  ctx.lineTo(x2 - 10 * Math.cos(angle - 0.4), y2 - 10 * Math.sin(angle - 0.4));
  ctx.lineTo(x2 - 10 * Math.cos(angle + 0.4), y2 - 10 * Math.sin(angle + 0.4));
  ctx.closePath();
  ctx.fill();
}

/** Arrows between the marks of related spans, above the text. */
function TextRelations({ regions, labels, selectedId, editor, markOf, container, layoutVersion }: TextOverlayProps) {
  const [paths, setPaths] = useState<{ id: string; d: string; color: string; label: string; x: number; y: number; selected: boolean }[]>([]);
  const linking = editor.toolState<Linking>(RELATION);
  useLayoutEffect(() => {
    const root = container();
    if (!root) return;
    const base = root.getBoundingClientRect();
    const out: typeof paths = [];
    for (const r of regions) {
      if (!isRelation(r)) continue;
      const a = markOf(r.from)?.getBoundingClientRect();
      const b = markOf(r.to)?.getBoundingClientRect();
      if (!a || !b) continue;
      const x1 = a.left + a.width / 2 - base.left;
      const y1 = a.top - base.top;
      const x2 = b.left + b.width / 2 - base.left;
      const y2 = b.top - base.top;
      const lift = Math.min(40, 12 + Math.abs(x2 - x1) / 8);
      const top = Math.max(4, Math.min(y1, y2) - lift); // stays inside the text's top padding
      out.push({
        id: r.id,
        d: `M ${x1} ${y1} C ${x1} ${top}, ${x2} ${top}, ${x2} ${y2 - 2}`,
        color: labelColor(labels, r.label),
        label: r.label,
        x: (x1 + x2) / 2,
        y: 0.75 * top + 0.25 * Math.min(y1, y2) - 3, // the curve's apex
        selected: r.id === selectedId,
      });
    }
    setPaths(out);
  }, [regions, labels, selectedId, markOf, container, layoutVersion]);
  const source = linking ? markOf(linking.from) : null;
  return (
    <svg className="relation-overlay" aria-hidden={paths.length === 0}>
      <defs>
        <marker id="relation-head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" fill="context-stroke" />
        </marker>
      </defs>
      {paths.map((p) => (
        <g key={p.id} data-testid="relation" data-region-id={p.id} className={p.selected ? "selected" : ""} onMouseDown={(e) => e.preventDefault()} onClick={() => editor.select(p.id)}>
          <path d={p.d} stroke={p.color} strokeWidth={p.selected ? 3 : 1.75} fill="none" markerEnd="url(#relation-head)" />
          <text x={p.x} y={p.y} fill={p.color} textAnchor="middle">
            {p.label}
          </text>
        </g>
      ))}
      {source && container() && <LinkSource el={source} container={container()!} />}
    </svg>
  );
}

function LinkSource({ el, container }: { el: HTMLElement; container: HTMLElement }) {
  const a = el.getBoundingClientRect();
  const base = container.getBoundingClientRect();
  return <rect className="link-source" x={a.left - base.left - 2} y={a.top - base.top - 2} width={a.width + 4} height={a.height + 4} rx={3} />;
}

export const relationTool: ToolPlugin = {
  name: RELATION,
  title: "Relation",
  modalities: ["image", "text"],
  placement: "stage",
  regionTypes: [RELATION],
  usesLabels: true,
  drawsByDefault: false,
  hint: "click the source, then the target (or R with the keyboard)",
  image: {
    bounds: () => null,
    draw(d, r, look, ends) {
      if (!isRelation(r)) return;
      const a = ends(r.from);
      const b = ends(r.to);
      if (!a || !b) return;
      const p = center(a);
      const q = center(b);
      arrow(d, p, q, look.invalid ? "#c62828" : look.color, look.selected ? 3 : 2, look.pending);
      const { ctx } = d;
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillStyle = look.color;
      ctx.fillText(r.label, (d.sx(p.x) + d.sx(q.x)) / 2 + 4, (d.sy(p.y) + d.sy(q.y)) / 2 - 4);
    },
    hit(r, p, tol, ends) {
      if (!isRelation(r)) return false;
      const a = ends(r.from);
      const b = ends(r.to);
      return !!a && !!b && distanceToSegment(p, center(a), center(b)) <= tol;
    },
    session: relationSession,
    drawOverlay(d, editor, ends) {
      const linking = editor.toolState<Linking>(RELATION);
      const from = linking ? ends(linking.from) : null;
      if (!from) return;
      const { ctx } = d;
      ctx.strokeStyle = "#111111";
      ctx.lineWidth = 2;
      ctx.setLineDash([4, 3]);
      ctx.strokeRect(d.sx(from.x) - 3, d.sy(from.y) - 3, from.w * d.scale + 6, from.h * d.scale + 6);
      ctx.setLineDash([]);
      const sel = editor.selectedId();
      const to = sel && sel !== linking!.from ? ends(sel) : null;
      if (to) arrow(d, center(from), center(to), "#111111", 1.5, true);
    },
  },
  text: {
    Overlay: TextRelations,
    onRegionClick(r, editor) {
      if (isRelation(r)) return false;
      if (!editor.toolState<Linking>(RELATION)) editor.select(r.id);
      linkStep(editor, r.id);
      return true;
    },
  },
  shortcuts: ({ letter }) => [{ ...letter("r"), description: "Link: press on the source region, select the target, press again", run: (editor) => linkStep(editor) }],
  describe: (r, { describeId }) => (isRelation(r) ? `${describeId(r.from)} → ${describeId(r.to)}` : r.type),
};
