// Every keyboard shortcut of the labeling screen, built in one place so the overlay lists exactly what works.
import type { Schema } from "../api/types";
import { matchesCombo, type KeyCombo, type KeyEventLike } from "../lib/keys";
import type { LabelDef } from "../lib/labels";
import type { EditorApi, ToolPlugin } from "../tools/types";

export type Command =
  | { kind: "label"; label: string }
  | { kind: "submit" }
  | { kind: "undo" }
  | { kind: "redo" }
  | { kind: "delete" }
  | { kind: "escape" }
  | { kind: "help" }
  | { kind: "tool"; run(editor: EditorApi): void };

export interface Shortcut {
  group: string;
  keys: string;
  description: string;
  combos: KeyCombo[];
  command: Command;
  /** Also fires while a text field has focus. */
  inTextFields?: boolean;
}

const BUILT_INS: Shortcut[] = [
  { group: "General", keys: "Ctrl+Enter", description: "Submit", combos: [{ key: "Enter", ctrl: true }], command: { kind: "submit" }, inTextFields: true },
  { group: "General", keys: "Enter", description: "Submit (when no text field is focused)", combos: [{ key: "Enter", shift: false }], command: { kind: "submit" } },
  { group: "General", keys: "Ctrl+Z", description: "Undo the last region change", combos: [{ key: "z", ctrl: true, shift: false }], command: { kind: "undo" } },
  { group: "General", keys: "Ctrl+Shift+Z / Ctrl+Y", description: "Redo", combos: [{ key: "z", ctrl: true, shift: true }, { key: "y", ctrl: true }], command: { kind: "redo" } },
  { group: "General", keys: "Delete / Backspace", description: "Delete the selected region", combos: [{ key: "Delete" }, { key: "Backspace" }], command: { kind: "delete" } },
  { group: "General", keys: "Escape", description: "Deselect, or close this overlay", combos: [{ key: "Escape" }], command: { kind: "escape" }, inTextFields: true },
  { group: "General", keys: "?", description: "Show or hide the shortcuts", combos: [{ key: "?" }], command: { kind: "help" } },
];

export interface KeymapInput {
  schema: Schema;
  /** Labels in effect (hotkeys only when a label tool is active). */
  labels: readonly LabelDef[];
  tools: readonly ToolPlugin[];
}

export function buildShortcuts({ schema, labels, tools }: KeymapInput): Shortcut[] {
  const labelShortcuts: Shortcut[] = labels
    .filter((l) => l.hotkey)
    .map((l) => ({
      group: "Labels",
      keys: l.hotkey!,
      description: `${l.name}: label the selected region or text; the label for new regions`,
      // a digit hotkey is the plain digit: Shift+digit belongs to choice options
      combos: [/^[0-9]$/.test(l.hotkey!) ? { key: l.hotkey!, shift: false } : { key: l.hotkey! }],
      command: { kind: "label", label: l.name },
    }));
  const reservedKeys = new Set(labelShortcuts.map((s) => s.keys.toLowerCase()));
  const toolShortcuts: Shortcut[] = tools.flatMap((tool) =>
    (tool.shortcuts?.({ schema, reservedKeys }) ?? []).map((s) => ({
      group: tool.title,
      keys: s.keys,
      description: s.description,
      combos: [s.combo],
      command: { kind: "tool" as const, run: s.run },
    })),
  );
  return [...BUILT_INS, ...labelShortcuts, ...toolShortcuts];
}

/** The shortcut a key press triggers, if any (built-ins win over labels, labels over tools). */
export function findShortcut(shortcuts: readonly Shortcut[], e: KeyEventLike, inTextField: boolean): Shortcut | undefined {
  return shortcuts.find((s) => (!inTextField || s.inTextFields) && s.combos.some((c) => matchesCombo(c, e)));
}
