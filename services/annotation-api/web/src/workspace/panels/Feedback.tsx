import type { Rework, Task } from "../../api/types";
import type { EditorRegion } from "../../editor/regions";
import { labelColor, type LabelDef } from "../../lib/labels";

interface Props {
  task: Task;
  rework: Rework | null;
  labels: readonly LabelDef[];
  /** The annotation as it is now (the rejected one, being corrected). */
  regions: readonly EditorRegion[];
}

/** The reviewer's feedback on the rejected round, next to the annotation being corrected. */
export function FeedbackPanel({ task, rework, labels, regions }: Props) {
  const feedback = rework?.feedback ?? task.feedback;
  const previous = rework?.previous;
  const count = (list: readonly { label?: unknown }[]) => {
    const by = new Map<string, number>();
    for (const r of list) if (typeof r.label === "string") by.set(r.label, (by.get(r.label) ?? 0) + 1);
    return [...by];
  };
  return (
    <section className="feedback" data-testid="feedback" role="note">
      <h3>Reviewer feedback</h3>
      <blockquote>{feedback}</blockquote>
      {previous && (
        <div className="muted" data-testid="previous-round">
          Round {previous.round} was rejected with {previous.result.length} region(s); it is loaded here to correct.
          <ul className="label-counts">
            {count(regions).map(([label, n]) => (
              <li key={label}>
                <span className="swatch" style={{ backgroundColor: labelColor(labels, label) }} /> {label}: {n} now
                {` (was ${previous.result.filter((r) => r.label === label).length})`}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
