// Label schema editing: check a draft before it is sent, and the mapping from the labels of the current version
// to a new version's (what the migrate endpoint applies to the accepted annotations).
import type { AttributeSpec, Schema } from "../api/types";

/** old label -> new label; null drops the regions of that label. */
export type LabelMapping = Record<string, string | null>;

export const REGION_TOOLS: Record<string, readonly string[]> = {
  image: ["bbox", "polygon", "polyline", "keypoints", "mask", "relation", "choice"],
  text: ["span", "relation", "choice"],
  audio: ["choice", "transcript"],
  video: ["bbox", "choice"],
};

const names = (schema: Schema) => (schema.labels ?? []).map((l) => l.name);

export interface LabelChanges {
  kept: string[];
  removed: string[];
  added: string[];
}

export function labelChanges(old: Schema, next: Schema): LabelChanges {
  const a = names(old);
  const b = names(next);
  return { kept: a.filter((n) => b.includes(n)), removed: a.filter((n) => !b.includes(n)), added: b.filter((n) => !a.includes(n)) };
}

/** The starting mapping: a removed label whose slot now holds a new label is taken as renamed to it; other
 * removed labels must be chosen (undefined = not mapped yet). */
export function suggestMapping(old: Schema, next: Schema): LabelMapping {
  const a = names(old);
  const b = names(next);
  const { removed, added } = labelChanges(old, next);
  const out: LabelMapping = {};
  for (const label of removed) {
    const slot = b[a.indexOf(label)];
    if (slot !== undefined && added.includes(slot)) out[label] = slot;
  }
  return out;
}

/** What is wrong with a mapping (empty when it can be applied), in the server's words. */
export function mappingProblems(old: Schema, next: Schema, mapping: LabelMapping): string[] {
  const a = names(old);
  const b = names(next);
  const problems: string[] = [];
  for (const [from, to] of Object.entries(mapping)) {
    if (!a.includes(from)) problems.push(`${from} is not a label of the old version`);
    else if (to !== null && to !== "" && !b.includes(to)) problems.push(`${from} -> ${to}: ${to} is not a label of the new version`);
  }
  for (const label of labelChanges(old, next).removed) {
    if (!(label in mapping)) problems.push(`${label} is not in the new version: map it to a new label, or drop its regions`);
  }
  return problems;
}

/** Only what changes (identity entries left out), as the migrate endpoint takes it. */
export function mappingForRequest(mapping: LabelMapping): LabelMapping {
  return Object.fromEntries(Object.entries(mapping).filter(([from, to]) => from !== to));
}

const HEX = /^#[0-9a-fA-F]{6}$/;

/** Problems of a schema draft that the server would refuse, named by field. */
export function schemaProblems(schema: Schema): string[] {
  const problems: string[] = [];
  const labels = schema.labels ?? [];
  const tools = schema.tools ?? [];
  if (tools.length === 0) problems.push("tools: pick at least one tool");
  const seen = new Set<string>();
  const keys = new Map<string, string>();
  labels.forEach((l, i) => {
    const name = l.name.trim();
    if (!name) problems.push(`labels[${i}]: a label needs a name`);
    else if (seen.has(name)) problems.push(`labels[${i}]: ${name} is there twice`);
    seen.add(name);
    if (l.color && !HEX.test(l.color)) problems.push(`labels[${i}].color: ${l.color} is not #rrggbb`);
    if (l.hotkey) {
      if (l.hotkey.length !== 1) problems.push(`labels[${i}].hotkey: one key only`);
      const other = keys.get(l.hotkey.toLowerCase());
      if (other) problems.push(`labels[${i}].hotkey: ${l.hotkey} is taken by ${other}`);
      keys.set(l.hotkey.toLowerCase(), name);
    }
  });
  if (tools.some((t) => t !== "choice") && labels.length === 0) problems.push("labels: region tools need at least one label");
  if (tools.includes("choice") && (schema.choices ?? []).length === 0) problems.push("choices: the choice tool needs a choice group");
  (schema.choices ?? []).forEach((c, i) => {
    if (!c.name.trim()) problems.push(`choices[${i}]: a group needs a name`);
    if (c.options.filter((o) => o.trim()).length === 0) problems.push(`choices[${i}]: ${c.name || "the group"} needs options`);
  });
  (schema.attributes ?? []).forEach((a: AttributeSpec, i) => {
    if (!a.name.trim()) problems.push(`attributes[${i}]: an attribute needs a name`);
    if (a.type === "choice" && (a.options ?? []).length === 0) problems.push(`attributes[${i}]: ${a.name} needs options`);
  });
  return problems;
}

/** The schema as sent: blank optional fields left out, tools kept to those of the modality. */
export function cleanSchema(schema: Schema): Schema {
  const allowed = REGION_TOOLS[schema.modality] ?? [];
  const out: Schema = {
    ...schema,
    tools: (schema.tools ?? []).filter((t) => allowed.includes(t)),
    labels: (schema.labels ?? []).map((l) => ({
      ...l,
      name: l.name.trim(),
      ...(l.color ? { color: l.color } : { color: undefined }),
      ...(l.hotkey ? { hotkey: l.hotkey } : { hotkey: undefined }),
    })),
    choices: (schema.choices ?? []).map((c) => ({ ...c, options: c.options.map((o) => o.trim()).filter(Boolean) })),
  };
  for (const l of out.labels ?? []) {
    if (l.color === undefined) delete l.color;
    if (l.hotkey === undefined) delete l.hotkey;
  }
  return out;
}
