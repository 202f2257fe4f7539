import type { EditorRegion, RegionAction } from "../../editor/regions";

interface Props {
  /** Regions that came from a model. */
  regions: readonly EditorRegion[];
  dispatch(action: RegionAction): void;
}

/** How many pre-labels are still to review, and accept or reject all of them at once. */
export function PrelabelPanel({ regions, dispatch }: Props) {
  const pending = regions.filter((r) => r._pending);
  const versions = [...new Set(regions.map((r) => r.origin?.model_version).filter(Boolean))];
  const edited = regions.filter((r) => r.origin?.edited).length;
  return (
    <section className="prelabels" data-testid="prelabels">
      <h3>Pre-labels</h3>
      <p className="muted">
        {pending.length} to review, {regions.length - pending.length} accepted{edited > 0 && ` (${edited} changed)`} · model {versions.join(", ")}
      </p>
      {pending.length > 0 && (
        <div className="row">
          <button type="button" data-testid="accept-all" onMouseDown={(e) => e.preventDefault()} onClick={() => dispatch({ type: "accept", ids: "all" })}>
            Accept all <kbd>Shift+A</kbd>
          </button>
          <button type="button" data-testid="reject-all" onMouseDown={(e) => e.preventDefault()} onClick={() => dispatch({ type: "reject", ids: "all" })}>
            Reject all <kbd>Shift+X</kbd>
          </button>
        </div>
      )}
    </section>
  );
}
