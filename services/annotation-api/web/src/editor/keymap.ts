// Every keyboard shortcut of the labeling screen, built in one place so the overlay lists exactly what works.
//
// Precedence: built-ins, then label hotkeys, then tools. A letter a built-in or tool would use is replaced by
// Alt+letter when a label hotkey takes it, so schema hotkeys always win.
import type { Modality, Schema } from "../api/types";
import { matchesCombo, type KeyCombo, type KeyEventLike } from "../lib/keys";
import type { LabelDef } from "../lib/labels";
import type { EditorApi, ToolPlugin } from "../tools/types";

export type ViewOp = "zoomIn" | "zoomOut" | "fit" | "panLeft" | "panRight" | "panUp" | "panDown";
export type TextOp = "nextToken" | "previousToken" | "extendRight" | "extendLeft";

export type Command =
  | { kind: "label"; label: string }
  | { kind: "submit" }
  | { kind: "skip" }
  | { kind: "undo" }
  | { kind: "redo" }
  | { kind: "delete" }
  | { kind: "escape" }
  | { kind: "help" }
  | { kind: "nextRegion" }
  | { kind: "previousRegion" }
  | { kind: "accept" }
  | { kind: "acceptAll" }
  | { kind: "reject" }
  | { kind: "rejectAll" }
  | { kind: "flag" }
  | { kind: "comment" }
  | { kind: "guidelines" }
  | { kind: "selectTool"; tool: string }
  | { kind: "view"; op: ViewOp }
  | { kind: "text"; op: TextOp }
  | { kind: "tool"; run(editor: EditorApi): void };

export interface Shortcut {
  group: string;
  keys: string;
  description: string;
  combos: KeyCombo[];
  command: Command;
  /** Also fires while a text field has focus. */
  inTextFields?: boolean;
  /** Fires again while the key is held down. */
  repeat?: boolean;
}

/** A letter key (lower case): the plain letter when free, else Alt+letter (matched on the physical key). */
export function letterKey(letter: string, reserved: ReadonlySet<string>, shift = false): { keys: string; combo: KeyCombo } {
  const upper = letter.toUpperCase();
  if (!reserved.has(letter)) return { keys: shift ? `Shift+${upper}` : letter, combo: { key: letter, shift } };
  return { keys: `Alt+${shift ? "Shift+" : ""}${upper}`, combo: { code: `Key${upper}`, alt: true, shift } };
}

const FIXED: Shortcut[] = [
  { group: "General", keys: "Ctrl+Enter", description: "Submit and go to the next item", combos: [{ key: "Enter", ctrl: true }], command: { kind: "submit" }, inTextFields: true },
  { group: "General", keys: "Enter", description: "Submit (when no text field is focused)", combos: [{ key: "Enter", shift: false }], command: { kind: "submit" } },
  { group: "General", keys: "Ctrl+Z", description: "Undo the last region change", combos: [{ key: "z", ctrl: true, shift: false }], command: { kind: "undo" }, repeat: true },
  { group: "General", keys: "Ctrl+Shift+Z / Ctrl+Y", description: "Redo", combos: [{ key: "z", ctrl: true, shift: true }, { key: "y", ctrl: true }], command: { kind: "redo" }, repeat: true },
  { group: "General", keys: "Delete / Backspace", description: "Delete the selected region", combos: [{ key: "Delete" }, { key: "Backspace" }], command: { kind: "delete" } },
  { group: "General", keys: "Escape", description: "Cancel drawing or linking, deselect, close this overlay", combos: [{ key: "Escape" }], command: { kind: "escape" }, inTextFields: true },
  { group: "General", keys: ".", description: "Select the next region", combos: [{ key: "." }], command: { kind: "nextRegion" }, repeat: true },
  { group: "General", keys: ",", description: "Select the previous region", combos: [{ key: "," }], command: { kind: "previousRegion" }, repeat: true },
  { group: "General", keys: "?", description: "Show or hide the shortcuts", combos: [{ key: "?" }], command: { kind: "help" } },
];

export interface KeymapInput {
  schema: Schema;
  modality: Modality;
  /** Labels in effect (hotkeys only when a label tool is active). */
  labels: readonly LabelDef[];
  /** Stage tools (selectable with their key) and panel tools, in schema order. */
  tools: readonly ToolPlugin[];
}

export function buildShortcuts({ schema, modality, labels, tools }: KeymapInput): Shortcut[] {
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
  const reserved = new Set(labelShortcuts.map((s) => s.keys.toLowerCase()));
  const letter = (group: string, ch: string, description: string, command: Command, shift = false): Shortcut => {
    const { keys, combo } = letterKey(ch, reserved, shift);
    return { group, keys, description, combos: [combo], command };
  };
  const workspace: Shortcut[] = [
    letter("General", "s", "Skip this item", { kind: "skip" }, true),
    letter("Pre-labels", "a", "Accept the selected pre-label", { kind: "accept" }),
    letter("Pre-labels", "a", "Accept every pre-label", { kind: "acceptAll" }, true),
    letter("Pre-labels", "x", "Reject (remove) the selected pre-label", { kind: "reject" }),
    letter("Pre-labels", "x", "Reject every pending pre-label", { kind: "rejectAll" }, true),
    letter("Item", "f", "Flag this item as ambiguous (with a reason)", { kind: "flag" }, true),
    letter("Item", "c", "Write a comment for reviewers", { kind: "comment" }),
    letter("Item", "g", "Show or hide the guidelines", { kind: "guidelines" }),
  ];
  const view: Shortcut[] =
    modality === "image"
      ? [
          { group: "View", keys: "Mouse wheel", description: "Zoom in or out at the cursor", combos: [], command: { kind: "view", op: "zoomIn" } },
          { group: "View", keys: "Space+drag / right-drag", description: "Pan", combos: [], command: { kind: "view", op: "panLeft" } },
          { group: "View", keys: "= / +", description: "Zoom in", combos: [{ key: "=" }, { key: "+" }], command: { kind: "view", op: "zoomIn" }, repeat: true },
          { group: "View", keys: "-", description: "Zoom out", combos: [{ key: "-" }], command: { kind: "view", op: "zoomOut" }, repeat: true },
          letter("View", "f", "Fit the image", { kind: "view", op: "fit" }),
          ...(["Left", "Right", "Up", "Down"] as const).map((d) => ({
            group: "View",
            keys: `Arrow${d}`,
            description: `Pan ${d.toLowerCase()}`,
            combos: [{ key: `Arrow${d}`, shift: false }],
            command: { kind: "view", op: `pan${d}` } as Command,
            repeat: true,
          })),
        ]
      : modality === "text"
        ? [
            { group: "Text", keys: "Click", description: "Select the token under the mouse (Shift+click extends); drag selects a span", combos: [], command: { kind: "text", op: "nextToken" } },
            { group: "Text", keys: "ArrowRight", description: "Select the next token", combos: [{ key: "ArrowRight", shift: false }], command: { kind: "text", op: "nextToken" }, repeat: true },
            { group: "Text", keys: "ArrowLeft", description: "Select the previous token", combos: [{ key: "ArrowLeft", shift: false }], command: { kind: "text", op: "previousToken" }, repeat: true },
            { group: "Text", keys: "Shift+ArrowRight", description: "Extend the selection by the next token", combos: [{ key: "ArrowRight", shift: true }], command: { kind: "text", op: "extendRight" }, repeat: true },
            { group: "Text", keys: "Shift+ArrowLeft", description: "Take the last token off the selection", combos: [{ key: "ArrowLeft", shift: true }], command: { kind: "text", op: "extendLeft" }, repeat: true },
          ]
        : [];
  const builtInKeys = new Set([...workspace, ...view].map((s) => s.keys.toLowerCase()).filter((k) => k.length === 1));
  const taken = new Set([...reserved, ...builtInKeys]);
  const toolShortcuts: Shortcut[] = tools.flatMap((tool) => {
    const own: Shortcut[] = (tool.shortcuts?.({ schema, reservedKeys: taken, letter: (ch, shift) => letterKey(ch, taken, shift) }) ?? []).map((s) => ({
      group: tool.title,
      keys: s.keys,
      description: s.description,
      combos: [s.combo],
      command: { kind: "tool" as const, run: s.run },
      ...(s.repeat ? { repeat: true } : {}),
    }));
    if (tool.placement !== "stage" || !tool.key) return own;
    const { keys, combo } = letterKey(tool.key, taken);
    return [{ group: "Tools", keys, description: `${tool.title}${tool.hint ? `: ${tool.hint}` : ""}`, combos: [combo], command: { kind: "selectTool", tool: tool.name } }, ...own];
  });
  return [...FIXED, ...workspace, ...view, ...labelShortcuts, ...toolShortcuts];
}

/** Rows for the overlay: one per description (rows without combos describe mouse gestures). */
export function overlayRows(shortcuts: readonly Shortcut[]): Shortcut[] {
  const seen = new Set<string>();
  return shortcuts.filter((s) => {
    const key = `${s.group}\u0000${s.description}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The shortcut a key press triggers, if any (built-ins win over labels, labels over tools). */
export function findShortcut(shortcuts: readonly Shortcut[], e: KeyEventLike, inTextField: boolean): Shortcut | undefined {
  return shortcuts.find((s) => (!inTextField || s.inTextFields) && s.combos.some((c) => matchesCombo(c, e)));
}
