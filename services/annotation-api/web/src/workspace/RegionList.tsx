import type { Region } from "../api/types";
import type { EditorRegion, RegionAction } from "../editor/regions";
import { isBbox, isChoice, isSpan } from "../editor/regions";
import { sliceCodePoints } from "../lib/codepoints";
import { labelColor, type LabelDef } from "../lib/labels";

interface Props {
  regions: readonly EditorRegion[];
  labels: readonly LabelDef[];
  text: string | null;
  selectedId: string | null;
  invalidIds: ReadonlySet<string>;
  select(id: string | null): void;
  dispatch(action: RegionAction): void;
}

function describe(r: Region, text: string | null): string {
  if (isBbox(r)) return `${Math.round(r.w)}×${Math.round(r.h)} at ${Math.round(r.x)},${Math.round(r.y)}`;
  if (isSpan(r)) return text === null ? `${r.start}–${r.end}` : `“${sliceCodePoints(text, r.start, r.end)}”`;
  if (isChoice(r)) return Array.isArray(r.value) ? r.value.join(", ") : r.value;
  return r.type;
}

/** The regions of the current item: click to select, × to delete. */
export function RegionList({ regions, labels, text, selectedId, invalidIds, select, dispatch }: Props) {
  const shown = regions.filter((r) => !isChoice(r));
  return (
    <section className="region-list">
      <h3>Regions ({shown.length})</h3>
      <ul>
        {shown.map((r) => (
          <li
            key={r.id}
            data-testid="region-item"
            className={`${r.id === selectedId ? "selected" : ""}${invalidIds.has(r.id) ? " invalid" : ""}`}
            onMouseDown={(e) => e.preventDefault()}
            onClick={() => select(r.id)}
          >
            <span className="swatch" style={{ backgroundColor: labelColor(labels, r.label) }} />
            <span className="region-label">{r.label ?? r.type}</span>
            <span className="muted">{describe(r, text)}</span>
            <button
              type="button"
              aria-label="Delete region"
              onClick={(e) => {
                e.stopPropagation();
                dispatch({ type: "remove", id: r.id });
              }}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
