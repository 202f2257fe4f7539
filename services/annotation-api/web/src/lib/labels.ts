import type { Schema } from "../api/types";

export interface LabelDef {
  name: string;
  color: string;
  /** The key that applies this label, or null when none is left (more than nine labels without hotkeys). */
  hotkey: string | null;
  /** Tools this label is for; null = every labelled tool. */
  tools: readonly string[] | null;
  /** Keypoint names (keypoints tool) and 1-based index pairs joined by lines (COCO's skeleton). */
  keypoints: readonly string[] | null;
  skeleton: readonly (readonly [number, number])[];
}

// Distinguishable on a photo and on white; used when a label has no colour of its own.
export const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#469990", "#808000"];

/** Labels with their colour and hotkey: schema values first, then palette colours and free digits 1..9. */
export function resolveLabels(schema: Pick<Schema, "labels">): LabelDef[] {
  const labels = schema.labels ?? [];
  const explicit = new Set(labels.map((l) => l.hotkey?.toLowerCase()).filter((k): k is string => !!k));
  const free = ["1", "2", "3", "4", "5", "6", "7", "8", "9"].filter((d) => !explicit.has(d));
  return labels.map((l, i) => ({
    name: l.name,
    color: l.color || PALETTE[i % PALETTE.length]!,
    hotkey: l.hotkey ? l.hotkey : (free.shift() ?? null),
    tools: Array.isArray(l.tools) && l.tools.length > 0 ? l.tools : null,
    keypoints: Array.isArray(l.keypoints) && l.keypoints.length > 0 ? l.keypoints : null,
    skeleton: Array.isArray(l.skeleton) ? l.skeleton.filter((e) => Array.isArray(e) && e.length === 2) : [],
  }));
}

export function labelColor(labels: readonly LabelDef[], name: string | undefined): string {
  return labels.find((l) => l.name === name)?.color ?? "#888888";
}

/** The labels a tool may use: the ones declared for it when there are any, else the ones not tied to a tool. */
export function labelsFor(labels: readonly LabelDef[], tool: string): LabelDef[] {
  const declared = labels.filter((l) => l.tools?.includes(tool));
  return declared.length > 0 ? declared : labels.filter((l) => l.tools === null);
}

/** The label a new region of `tool` gets: the active one when it fits the tool, else the tool's first. */
export function labelForTool(labels: readonly LabelDef[], tool: string, active: string | null): string | null {
  const fit = labelsFor(labels, tool);
  return fit.find((l) => l.name === active)?.name ?? fit[0]?.name ?? null;
}
