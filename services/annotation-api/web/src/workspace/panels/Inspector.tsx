import type { AttributeSpec, Schema } from "../../api/types";
import { isChoice, isRelation, type EditorRegion, type RegionAction } from "../../editor/regions";
import { labelsFor, type LabelDef } from "../../lib/labels";
import { linkStep, RELATION } from "../../tools/relation";
import type { EditorApi } from "../../tools/types";

interface Props {
  region: EditorRegion;
  schema: Schema;
  labels: readonly LabelDef[];
  dispatch(action: RegionAction): void;
  editor: EditorApi;
}

/** The attributes of the schema that apply to a region (by label and type). */
export function attributesFor(schema: Pick<Schema, "attributes">, region: EditorRegion): AttributeSpec[] {
  // an attribute without `tools` is for regions, not for the relations between them
  return (schema.attributes ?? []).filter(
    (a) =>
      a &&
      typeof a.name === "string" &&
      (!a.labels || a.labels.includes(region.label ?? "")) &&
      (a.tools ? a.tools.includes(region.type) : region.type !== "relation"),
  );
}

/** The selected region: its label (classification), its attributes, and for a pre-label, accept or reject. */
export function Inspector({ region, schema, labels, dispatch, editor }: Props) {
  if (isChoice(region)) return null;
  const choices = labelsFor(labels, region.type);
  const attributes = attributesFor(schema, region);
  const values = (region.attributes ?? {}) as Record<string, unknown>;
  const setAttribute = (name: string, value: unknown) => {
    const next = { ...values };
    if (value === "" || value === undefined || value === false || (typeof value === "number" && Number.isNaN(value))) delete next[name];
    else next[name] = value;
    dispatch({ type: "update", id: region.id, patch: { attributes: next } });
  };
  return (
    <section className="inspector" data-testid="inspector" aria-label="Selected region">
      <h3>
        Selected {region.type}
        {region._pending && <span className="badge">pre-label</span>}
      </h3>
      {typeof region.label === "string" && (
        <label className="field">
          <span>Label</span>
          <select data-testid="region-label" value={region.label} onChange={(e) => dispatch({ type: "update", id: region.id, patch: { label: e.target.value } })}>
            {choices.map((l) => (
              <option key={l.name} value={l.name}>
                {l.name}
                {l.hotkey ? ` (${l.hotkey})` : ""}
              </option>
            ))}
          </select>
        </label>
      )}
      {attributes.map((a) => (
        <label key={a.name} className="field">
          <span>{a.name}</span>
          {a.type === "boolean" ? (
            <input type="checkbox" data-testid={`attribute-${a.name}`} checked={values[a.name] === true} onChange={(e) => setAttribute(a.name, e.target.checked)} />
          ) : a.type === "choice" || a.options ? (
            <select data-testid={`attribute-${a.name}`} value={typeof values[a.name] === "string" ? (values[a.name] as string) : ""} onChange={(e) => setAttribute(a.name, e.target.value)}>
              <option value="">—</option>
              {(a.options ?? []).map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          ) : a.type === "number" ? (
            <input
              type="number"
              data-testid={`attribute-${a.name}`}
              value={typeof values[a.name] === "number" ? (values[a.name] as number) : ""}
              onChange={(e) => setAttribute(a.name, e.target.value === "" ? undefined : Number(e.target.value))}
            />
          ) : (
            <input type="text" data-testid={`attribute-${a.name}`} value={typeof values[a.name] === "string" ? (values[a.name] as string) : ""} onChange={(e) => setAttribute(a.name, e.target.value)} />
          )}
        </label>
      ))}
      {region.origin && (
        <p className="muted origin">
          From model {region.origin.model_version}
          {typeof region.score === "number" && ` (confidence ${Math.round(region.score * 100)}%)`}
          {region.origin.edited ? ", changed by you" : ""}
        </p>
      )}
      <div className="row">
        {region._pending && (
          <button type="button" onClick={() => dispatch({ type: "accept", ids: [region.id] })}>
            Accept <kbd>A</kbd>
          </button>
        )}
        {region.origin && (
          <button type="button" onClick={() => dispatch({ type: "reject", ids: [region.id] })}>
            Reject <kbd>X</kbd>
          </button>
        )}
        {!isRelation(region) && editor.schema.tools?.includes(RELATION) && (
          <button type="button" data-testid="link-region" onMouseDown={(e) => e.preventDefault()} onClick={() => linkStep(editor)}>
            {editor.toolState(RELATION) ? "Link here" : "Link…"} <kbd>R</kbd>
          </button>
        )}
      </div>
    </section>
  );
}
