import { useState } from "react";
import type { Api } from "../../api/client";
import type { Project, Region } from "../../api/types";
import { describeError } from "../../auth/useSession";
import type { Policy } from "../PolicyEditor";
import { savePolicy } from "./PolicyTab";

/** The gold item as imported: its content and the expected answer (DESIGN "Item import": `gold`). */
export function goldItem(project: Project, externalId: string, content: string, answer: Region[]): Record<string, unknown> {
  const field = project.schema.modality === "text" ? "text" : project.schema.modality;
  return { ...(externalId.trim() ? { external_id: externalId.trim() } : {}), [field]: content, gold: answer };
}

/** The expected answer: the choice groups picked in the form, plus regions given as JSON. */
export function expectedAnswer(choices: Record<string, string>, regionsJson: string): Region[] {
  const regions: unknown = regionsJson.trim() ? JSON.parse(regionsJson) : [];
  if (!Array.isArray(regions)) throw new Error("regions: must be a JSON list of regions");
  const picked = Object.entries(choices)
    .filter(([, v]) => v)
    .map(([name, value]) => ({ type: "choice", name, value }));
  return [...(regions as Region[]), ...picked];
}

/** Gold items (items with an expected answer, mixed into the queue by the gold ratio; qualification sets are
 * drawn from them) and the qualification settings. */
export function GoldTab({ api, project, onChanged }: { api: Api; project: Project; onChanged(p: Project): void }) {
  const [externalId, setExternalId] = useState("");
  const [content, setContent] = useState("");
  const [choices, setChoices] = useState<Record<string, string>>({});
  const [regions, setRegions] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [policy, setPolicy] = useState<Policy>(project.policy);
  const isText = project.schema.modality === "text";

  const add = async () => {
    setError(null);
    setMessage(null);
    try {
      const answer = expectedAnswer(choices, regions);
      if (answer.length === 0) throw new Error("give the expected answer (a choice or regions)");
      const reply = await api.request<{ created: number; duplicates: number }>(
        "POST",
        `/projects/${encodeURIComponent(project.id)}/items`,
        [goldItem(project, externalId, content, answer)],
      );
      setMessage(reply.created ? `Gold item ${externalId || ""} added.` : "That item is there already (same content).");
      setExternalId("");
      setContent("");
      setRegions("");
    } catch (e) {
      setError(e instanceof SyntaxError ? `regions: ${e.message}` : describeError(e));
    }
  };
  const saveQualification = async () => {
    setError(null);
    try {
      onChanged(await savePolicy(api, project, policy));
      setMessage("Gold and qualification settings saved.");
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <div className="gold-tab">
      <section>
        <h3>Add a gold item</h3>
        <label className="field">
          External id
          <input data-testid="gold-external-id" value={externalId} onChange={(e) => setExternalId(e.target.value)} />
        </label>
        <label className="field">
          {isText ? "Text" : `${project.schema.modality} URL (s3://, https://)`}
          {isText ? (
            <textarea data-testid="gold-content" rows={3} value={content} onChange={(e) => setContent(e.target.value)} />
          ) : (
            <input data-testid="gold-content" value={content} onChange={(e) => setContent(e.target.value)} />
          )}
        </label>
        {(project.schema.choices ?? []).map((c) => (
          <label key={c.name} className="field">
            Expected {c.name}
            <select data-testid={`gold-choice-${c.name}`} value={choices[c.name] ?? ""} onChange={(e) => setChoices({ ...choices, [c.name]: e.target.value })}>
              <option value="">—</option>
              {c.options.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          </label>
        ))}
        {(project.schema.tools ?? []).some((t) => t !== "choice") && (
          <label className="field">
            Expected regions (JSON list, e.g. {'[{"type": "span", "label": "PER", "start": 0, "end": 5}]'})
            <textarea data-testid="gold-regions" rows={3} value={regions} onChange={(e) => setRegions(e.target.value)} />
          </label>
        )}
        <button type="button" className="primary" data-testid="gold-add" disabled={!content.trim()} onClick={() => void add()}>
          Add gold item
        </button>
        <p className="muted">Many at once: import a JSON/JSONL file whose items carry "gold" (Import tab).</p>
      </section>
      <section>
        <h3>Gold and qualification</h3>
        <div className="policy-editor">
          {(
            [
              ["gold_ratio", "Gold ratio (share of served items)"],
              ["gold_min_accuracy", "Gold minimum accuracy (below: paused)"],
              ["qualification_items", "Qualification set size (gold items before regular work)"],
              ["qualification_min_accuracy", "Qualification pass mark"],
            ] as const
          ).map(([key, label]) => (
            <label key={key} className="policy-field">
              <span>{label}</span>
              <input
                type="number"
                data-testid={`gold-${key}`}
                step={key === "qualification_items" ? 1 : 0.05}
                min={0}
                value={String(policy[key] ?? "")}
                onChange={(e) => setPolicy({ ...policy, [key]: Number(e.target.value) })}
              />
            </label>
          ))}
        </div>
        <button type="button" data-testid="gold-save" onClick={() => void saveQualification()}>
          Save
        </button>
      </section>
      {message && (
        <p className="ok" data-testid="gold-result">
          {message}
        </p>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="gold-error">
          {error}
        </p>
      )}
    </div>
  );
}
