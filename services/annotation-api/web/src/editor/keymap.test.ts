import { describe, expect, it } from "vitest";
import type { Schema } from "../api/types";
import type { KeyEventLike } from "../lib/keys";
import { resolveLabels } from "../lib/labels";
import { resolveTools } from "../tools/registry";
import { buildShortcuts, findShortcut } from "./keymap";

const key = (k: string, mods: Partial<KeyEventLike> = {}): KeyEventLike => ({ key: k, code: "", ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });

function keymap(schema: Schema) {
  const tools = resolveTools(schema);
  const labels = resolveLabels(schema).map((l) => (tools.usesLabels ? l : { ...l, hotkey: null }));
  return buildShortcuts({ schema, modality: schema.modality, labels, tools: [...tools.stage, ...tools.panels] });
}

describe("label hotkeys", () => {
  it("default to 1..9 and keep explicit ones", () => {
    const labels = resolveLabels({ labels: [{ name: "a" }, { name: "b", hotkey: "1" }, { name: "c" }, { name: "d", color: "#123456" }] });
    expect(labels.map((l) => l.hotkey)).toEqual(["2", "1", "3", "4"]);
    expect(labels[3]?.color).toBe("#123456");
    const many = resolveLabels({ labels: Array.from({ length: 11 }, (_, i) => ({ name: `l${i}` })) });
    expect(many.map((l) => l.hotkey)).toEqual(["1", "2", "3", "4", "5", "6", "7", "8", "9", null, null]);
  });
});

describe("shortcuts", () => {
  const image: Schema = { modality: "image", labels: [{ name: "cat" }, { name: "dog", hotkey: "d" }], tools: ["bbox"] };

  it("maps label hotkeys, submit, undo, delete and help", () => {
    const s = keymap(image);
    expect(findShortcut(s, key("1"), false)?.command).toEqual({ kind: "label", label: "cat" });
    expect(findShortcut(s, key("D", { shiftKey: true }), false)?.command).toEqual({ kind: "label", label: "dog" });
    expect(findShortcut(s, key("Enter"), false)?.command.kind).toBe("submit");
    expect(findShortcut(s, key("Enter", { metaKey: true }), false)?.command.kind).toBe("submit");
    expect(findShortcut(s, key("z", { ctrlKey: true }), false)?.command.kind).toBe("undo");
    expect(findShortcut(s, key("Z", { ctrlKey: true, shiftKey: true }), false)?.command.kind).toBe("redo");
    expect(findShortcut(s, key("Backspace"), false)?.command.kind).toBe("delete");
    expect(findShortcut(s, key("?", { shiftKey: true }), false)?.command.kind).toBe("help");
    expect(findShortcut(s, key("1", { ctrlKey: true }), false)).toBeUndefined();
  });

  it("leaves text fields alone except Ctrl+Enter and Escape", () => {
    const s = keymap(image);
    expect(findShortcut(s, key("Enter"), true)).toBeUndefined();
    expect(findShortcut(s, key("1"), true)).toBeUndefined();
    expect(findShortcut(s, key("Backspace"), true)).toBeUndefined();
    expect(findShortcut(s, key("Enter", { ctrlKey: true }), true)?.command.kind).toBe("submit");
  });

  it("gives choice options plain digits when labels do not use them", () => {
    const s = keymap({ modality: "text", labels: [{ name: "x" }], tools: ["choice"], choices: [{ name: "sentiment", options: ["pos", "neg"] }, { name: "topic", options: ["a"], multiple: true }] });
    expect(s.filter((x) => x.group === "Labels")).toEqual([]);
    expect(findShortcut(s, key("2"), false)?.description).toBe("sentiment: neg");
    expect(findShortcut(s, key("3"), false)?.description).toBe("topic: a");
  });

  it("moves choice options to Shift+digit when labels take the digits", () => {
    const s = keymap({ modality: "text", labels: [{ name: "PER" }], tools: ["span", "choice"], choices: [{ name: "lang", options: ["en", "fr"] }] });
    expect(findShortcut(s, key("1"), false)?.command).toEqual({ kind: "label", label: "PER" });
    const shifted = findShortcut(s, key("@", { code: "Digit2", shiftKey: true }), false);
    expect(shifted?.keys).toBe("Shift+2");
    expect(shifted?.description).toBe("lang: fr");
    // some drivers send the unshifted key with shiftKey set
    expect(findShortcut(s, key("2", { code: "Digit2", shiftKey: true }), false)?.description).toBe("lang: fr");
  });

  it("gives every workspace action a key, moving letters to Alt when a label hotkey takes them", () => {
    const free = keymap(image);
    expect(findShortcut(free, key("a"), false)?.command.kind).toBe("accept");
    expect(findShortcut(free, key("A", { shiftKey: true }), false)?.command.kind).toBe("acceptAll");
    expect(findShortcut(free, key("X", { shiftKey: true }), false)?.command.kind).toBe("rejectAll");
    expect(findShortcut(free, key("F", { shiftKey: true }), false)?.command.kind).toBe("flag");
    expect(findShortcut(free, key("b"), false)?.command).toEqual({ kind: "selectTool", tool: "bbox" });
    expect(findShortcut(free, key("."), false)?.command.kind).toBe("nextRegion");
    expect(findShortcut(free, key("="), false)?.command).toEqual({ kind: "view", op: "zoomIn" });
    const taken = keymap({ modality: "image", labels: [{ name: "animal", hotkey: "a" }, { name: "bus", hotkey: "b" }], tools: ["bbox", "polygon"] });
    expect(findShortcut(taken, key("a"), false)?.command).toEqual({ kind: "label", label: "animal" });
    expect(findShortcut(taken, key("a", { code: "KeyA", altKey: true }), false)?.command.kind).toBe("accept");
    expect(findShortcut(taken, key("b"), false)?.command).toEqual({ kind: "label", label: "bus" });
    expect(findShortcut(taken, key("b", { code: "KeyB", altKey: true }), false)?.command).toEqual({ kind: "selectTool", tool: "bbox" });
    expect(findShortcut(taken, key("p"), false)?.command).toEqual({ kind: "selectTool", tool: "polygon" });
    const keys = taken.map((s) => s.keys);
    expect(keys).toContain("Alt+A");
    expect(new Set(taken.flatMap((s) => s.combos.map((c) => JSON.stringify(c)))).size).toBe(taken.flatMap((s) => s.combos).length);
  });

  it("has token keys for texts and the relation key", () => {
    const s = keymap({ modality: "text", labels: [{ name: "PER" }, { name: "works_for", tools: ["relation"] }], tools: ["span", "relation"] });
    expect(findShortcut(s, key("ArrowRight"), false)?.command).toEqual({ kind: "text", op: "nextToken" });
    expect(findShortcut(s, key("ArrowLeft", { shiftKey: true }), false)?.command).toEqual({ kind: "text", op: "extendLeft" });
    expect(findShortcut(s, key("r"), false)?.command.kind).toBe("tool");
  });
});
