import type { Schema } from "../api/types";

export interface LabelDef {
  name: string;
  color: string;
  /** The key that applies this label, or null when none is left (more than nine labels without hotkeys). */
  hotkey: string | null;
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
  }));
}

export function labelColor(labels: readonly LabelDef[], name: string | undefined): string {
  return labels.find((l) => l.name === name)?.color ?? "#888888";
}
