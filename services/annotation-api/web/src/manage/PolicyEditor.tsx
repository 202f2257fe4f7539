export type Policy = Record<string, unknown>;

export const DEFAULT_POLICY: Policy = {
  overlap: 1,
  agreement_threshold: 1,
  gold_ratio: 0,
  gold_min_accuracy: 0.85,
  review: "disagreements",
  lease_seconds: 900,
  max_active_per_annotator: 10,
  max_items_per_annotator: 0,
  qualification_items: 0,
  qualification_min_accuracy: 0.85,
};

const FIELDS: { key: string; label: string; step: number; min: number; max?: number; hint: string }[] = [
  { key: "overlap", label: "Overlap", step: 1, min: 1, max: 50, hint: "annotators per item" },
  { key: "agreement_threshold", label: "Agreement threshold", step: 0.05, min: 0, max: 1, hint: "below it an item goes to review" },
  { key: "gold_ratio", label: "Gold ratio", step: 0.05, min: 0, max: 1, hint: "share of served items that are gold" },
  { key: "gold_min_accuracy", label: "Gold minimum accuracy", step: 0.05, min: 0, max: 1, hint: "below it an annotator is paused" },
  { key: "lease_seconds", label: "Lease time (s)", step: 30, min: 10, max: 86400, hint: "a held task returns to the queue after this" },
  { key: "max_active_per_annotator", label: "Tasks held at once", step: 1, min: 1, max: 100, hint: "per annotator" },
  { key: "max_items_per_annotator", label: "Item cap per annotator", step: 1, min: 0, hint: "0: no cap" },
  { key: "qualification_items", label: "Qualification items", step: 1, min: 0, max: 1000, hint: "gold items to pass before regular work" },
  { key: "qualification_min_accuracy", label: "Qualification minimum accuracy", step: 0.05, min: 0, max: 1, hint: "" },
];

/** The review mode as a kind and a sampling rate ("sample:0.2"). */
export function splitReview(review: unknown): { mode: string; rate: number } {
  const text = typeof review === "string" ? review : "disagreements";
  if (text.startsWith("sample:")) return { mode: "sample", rate: Number(text.slice(7)) || 0 };
  return { mode: text, rate: 0.1 };
}

export function PolicyEditor({ policy, onChange }: { policy: Policy; onChange(policy: Policy): void }) {
  const { mode, rate } = splitReview(policy.review);
  return (
    <div className="policy-editor" data-testid="policy-editor">
      {FIELDS.map((f) => (
        <label key={f.key} className="policy-field">
          <span>{f.label}</span>
          <input
            type="number"
            data-testid={`policy-${f.key}`}
            step={f.step}
            min={f.min}
            max={f.max}
            value={String(policy[f.key] ?? "")}
            onChange={(e) => onChange({ ...policy, [f.key]: e.target.value === "" ? "" : Number(e.target.value) })}
          />
          <small className="muted">{f.hint}</small>
        </label>
      ))}
      <label className="policy-field">
        <span>Review</span>
        <select
          data-testid="policy-review"
          value={mode}
          onChange={(e) => onChange({ ...policy, review: e.target.value === "sample" ? `sample:${rate}` : e.target.value })}
        >
          <option value="none">none</option>
          <option value="disagreements">disagreements</option>
          <option value="sample">a sample</option>
          <option value="all">all</option>
        </select>
        {mode === "sample" && (
          <input
            type="number"
            data-testid="policy-review-rate"
            step={0.05}
            min={0}
            max={1}
            value={rate}
            onChange={(e) => onChange({ ...policy, review: `sample:${Number(e.target.value)}` })}
          />
        )}
        <small className="muted">{mode === "sample" ? "share of accepted items sent to review" : "which items a reviewer sees"}</small>
      </label>
    </div>
  );
}
