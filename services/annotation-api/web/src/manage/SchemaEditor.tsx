import type { AttributeSpec, ChoiceGroup, LabelSpec, Modality, Schema } from "../api/types";
import { PALETTE } from "../lib/labels";
import { REGION_TOOLS } from "./schemaMapping";

interface Props {
  schema: Schema;
  onChange(schema: Schema): void;
  /** The modality is fixed once a project exists. */
  fixedModality?: boolean;
}

const ATTRIBUTE_TYPES = ["boolean", "choice", "text", "number"] as const;
const list = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);

/** The label schema: modality, tools, labels (colour, hotkey), choice groups, attributes, guidelines. */
export function SchemaEditor({ schema, onChange, fixedModality = false }: Props) {
  const labels = schema.labels ?? [];
  const choices = schema.choices ?? [];
  const attributes = schema.attributes ?? [];
  const tools = schema.tools ?? [];
  const set = (patch: Partial<Schema>) => onChange({ ...schema, ...patch });
  const setLabel = (i: number, patch: Partial<LabelSpec>) => set({ labels: labels.map((l, k) => (k === i ? { ...l, ...patch } : l)) });
  const setChoice = (i: number, patch: Partial<ChoiceGroup>) => set({ choices: choices.map((c, k) => (k === i ? { ...c, ...patch } : c)) });
  const setAttribute = (i: number, patch: Partial<AttributeSpec>) => set({ attributes: attributes.map((a, k) => (k === i ? { ...a, ...patch } : a)) });

  return (
    <div className="schema-editor" data-testid="schema-editor">
      <div className="field-row">
        <label>
          Kind
          <select
            data-testid="schema-modality"
            value={schema.modality}
            disabled={fixedModality}
            onChange={(e) => {
              const modality = e.target.value as Modality;
              set({ modality, tools: tools.filter((t) => REGION_TOOLS[modality]?.includes(t)) });
            }}
          >
            {Object.keys(REGION_TOOLS).map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <fieldset className="tool-picks">
          <legend>Tools</legend>
          {(REGION_TOOLS[schema.modality] ?? []).map((t) => (
            <label key={t}>
              <input
                type="checkbox"
                data-testid={`schema-tool-${t}`}
                checked={tools.includes(t)}
                onChange={(e) => set({ tools: e.target.checked ? [...tools, t] : tools.filter((x) => x !== t) })}
              />
              {t}
            </label>
          ))}
        </fieldset>
      </div>

      <h4>Labels</h4>
      <table className="edit-table">
        <thead>
          <tr>
            <th>name</th>
            <th>colour</th>
            <th>hotkey</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {labels.map((l, i) => (
            <tr key={i} data-testid="label-row">
              <td>
                <input data-testid={`label-name-${i}`} value={l.name} onChange={(e) => setLabel(i, { name: e.target.value })} />
              </td>
              <td>
                <input type="color" data-testid={`label-color-${i}`} value={l.color || PALETTE[i % PALETTE.length]} onChange={(e) => setLabel(i, { color: e.target.value })} />
              </td>
              <td>
                <input className="hotkey" data-testid={`label-hotkey-${i}`} maxLength={1} value={l.hotkey ?? ""} onChange={(e) => setLabel(i, { hotkey: e.target.value || null })} />
              </td>
              <td>
                <button type="button" data-testid={`label-remove-${i}`} onClick={() => set({ labels: labels.filter((_, k) => k !== i) })}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" data-testid="label-add" onClick={() => set({ labels: [...labels, { name: "", color: PALETTE[labels.length % PALETTE.length] }] })}>
        Add label
      </button>

      {tools.includes("choice") && (
        <>
          <h4>Choice groups</h4>
          {choices.map((c, i) => (
            <div key={i} className="field-row" data-testid="choice-group-row">
              <input placeholder="name" data-testid={`choice-name-${i}`} value={c.name} onChange={(e) => setChoice(i, { name: e.target.value })} />
              <input
                placeholder="options, comma separated"
                data-testid={`choice-options-${i}`}
                defaultValue={c.options.join(", ")}
                onChange={(e) => setChoice(i, { options: list(e.target.value) })}
              />
              <label>
                <input type="checkbox" checked={!!c.multiple} onChange={(e) => setChoice(i, { multiple: e.target.checked })} /> several
              </label>
              <button type="button" onClick={() => set({ choices: choices.filter((_, k) => k !== i) })}>
                Remove
              </button>
            </div>
          ))}
          <button type="button" data-testid="choice-add" onClick={() => set({ choices: [...choices, { name: "", options: [] }] })}>
            Add choice group
          </button>
        </>
      )}

      <h4>Attributes</h4>
      {attributes.map((a, i) => (
        <div key={i} className="field-row" data-testid="attribute-row">
          <input placeholder="name" data-testid={`attribute-name-${i}`} value={a.name} onChange={(e) => setAttribute(i, { name: e.target.value })} />
          <select data-testid={`attribute-type-${i}`} value={a.type ?? "text"} onChange={(e) => setAttribute(i, { type: e.target.value as AttributeSpec["type"] })}>
            {ATTRIBUTE_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
          {a.type === "choice" && (
            <input placeholder="options, comma separated" defaultValue={(a.options ?? []).join(", ")} onChange={(e) => setAttribute(i, { options: list(e.target.value) })} />
          )}
          <input
            placeholder="only for labels (comma separated; all when empty)"
            defaultValue={(a.labels ?? []).join(", ")}
            onChange={(e) => {
              const only = list(e.target.value);
              const { labels: _old, ...rest } = a;
              const next: AttributeSpec = only.length > 0 ? { ...rest, labels: only } : rest;
              set({ attributes: attributes.map((x, k) => (k === i ? next : x)) });
            }}
          />
          <button type="button" onClick={() => set({ attributes: attributes.filter((_, k) => k !== i) })}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" data-testid="attribute-add" onClick={() => set({ attributes: [...attributes, { name: "", type: "boolean" }] })}>
        Add attribute
      </button>

      <h4>Guidelines</h4>
      <textarea data-testid="schema-guidelines" rows={4} value={schema.guidelines ?? ""} onChange={(e) => set({ guidelines: e.target.value })} placeholder="Markdown shown to annotators" />
    </div>
  );
}
