import { useState, type UIEvent } from "react";
import type { EditorRegion, RegionAction } from "../editor/regions";
import { labelColor, type LabelDef } from "../lib/labels";
import type { DescribeContext, ToolPlugin } from "../tools/types";

interface Props {
  regions: readonly EditorRegion[];
  tools: readonly ToolPlugin[];
  labels: readonly LabelDef[];
  text: string | null;
  selectedId: string | null;
  invalidIds: ReadonlySet<string>;
  select(id: string | null): void;
  dispatch(action: RegionAction): void;
}

const ROW = 26;
const HEIGHT = 320;

/** The regions of the current item (only the visible rows are rendered): click to select, × to delete. */
export function RegionList({ regions, tools, labels, text, selectedId, invalidIds, select, dispatch }: Props) {
  const [top, setTop] = useState(0);
  const byType = new Map<string, ToolPlugin>();
  for (const t of tools) for (const type of t.regionTypes) byType.set(type, t);
  const context: DescribeContext = {
    text,
    describeId(id) {
      const r = regions.find((x) => x.id === id);
      if (!r) return "?";
      const d = byType.get(r.type)?.describe?.(r, { text, describeId: () => "…" });
      return `${r.label ?? r.type}${d ? ` ${d}` : ""}`;
    },
  };
  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const last = Math.min(regions.length, first + Math.ceil(HEIGHT / ROW) + 10);
  const onScroll = (e: UIEvent<HTMLDivElement>) => setTop(e.currentTarget.scrollTop);
  const pending = regions.filter((r) => r._pending).length;
  return (
    <section className="region-list">
      <h3>
        Regions ({regions.length}){pending > 0 && <span className="muted"> · {pending} pre-labels to review</span>}
      </h3>
      <div className="region-scroll" style={{ maxHeight: HEIGHT }} onScroll={onScroll}>
        <ul style={{ height: regions.length * ROW, position: "relative" }}>
          {regions.slice(first, last).map((r, k) => (
            <li
              key={r.id}
              data-testid="region-item"
              data-region-id={r.id}
              style={{ position: "absolute", top: (first + k) * ROW, left: 0, right: 0, height: ROW }}
              className={[r.id === selectedId && "selected", invalidIds.has(r.id) && "invalid", r._pending && "pending"].filter(Boolean).join(" ")}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => select(r.id)}
            >
              <span className="swatch" style={{ backgroundColor: labelColor(labels, r.label) }} />
              <span className="region-label">{r.label ?? r.type}</span>
              <span className="muted region-desc">{byType.get(r.type)?.describe?.(r, context) ?? r.type}</span>
              {r._pending && typeof r.score === "number" && <span className="score">{Math.round(r.score * 100)}%</span>}
              {r.origin?.edited && <span className="muted" title={`from ${r.origin.model_version}, changed`}>✎</span>}
              {r._pending && (
                <button
                  type="button"
                  aria-label="Accept pre-label"
                  data-testid="accept-region"
                  onClick={(e) => {
                    e.stopPropagation();
                    dispatch({ type: "accept", ids: [r.id] });
                  }}
                >
                  ✓
                </button>
              )}
              <button
                type="button"
                aria-label="Delete region"
                onClick={(e) => {
                  e.stopPropagation();
                  dispatch(r.origin ? { type: "reject", ids: [r.id] } : { type: "remove", id: r.id });
                }}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}
