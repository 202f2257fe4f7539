import { describe, expect, it } from "vitest";
import type { Schema } from "../api/types";
import { cleanSchema, labelChanges, mappingForRequest, mappingProblems, schemaProblems, suggestMapping } from "./schemaMapping";

const v1: Schema = { modality: "image", tools: ["bbox"], labels: [{ name: "cat" }, { name: "dog" }, { name: "bird" }] };
const v2: Schema = { modality: "image", tools: ["bbox"], labels: [{ name: "feline" }, { name: "dog" }, { name: "animal" }] };

describe("label changes and the mapping", () => {
  it("sees what is kept, removed and added", () => {
    expect(labelChanges(v1, v2)).toEqual({ kept: ["dog"], removed: ["cat", "bird"], added: ["feline", "animal"] });
  });
  it("suggests renames slot by slot", () => {
    expect(suggestMapping(v1, v2)).toEqual({ cat: "feline", bird: "animal" });
    const dropped: Schema = { ...v2, labels: [{ name: "dog" }] };
    expect(suggestMapping(v1, dropped)).toEqual({});
  });
  it("names every removed label left unmapped and every target that does not exist", () => {
    expect(mappingProblems(v1, v2, { cat: "feline" })).toEqual(["bird is not in the new version: map it to a new label, or drop its regions"]);
    expect(mappingProblems(v1, v2, { cat: "tiger", bird: null })).toEqual(["cat -> tiger: tiger is not a label of the new version"]);
    expect(mappingProblems(v1, v2, { cow: "dog", cat: "feline", bird: null })).toEqual(["cow is not a label of the old version"]);
    expect(mappingProblems(v1, v2, { cat: "feline", bird: null, dog: "animal" })).toEqual([]);
  });
  it("sends only real changes", () => {
    expect(mappingForRequest({ cat: "feline", dog: "dog", bird: null })).toEqual({ cat: "feline", bird: null });
  });
});

describe("schema drafts", () => {
  it("refuses duplicate names and hotkeys, bad colours and missing pieces", () => {
    const bad: Schema = {
      modality: "image",
      tools: ["bbox", "choice"],
      labels: [{ name: "cat", hotkey: "1", color: "red" }, { name: "cat", hotkey: "1" }],
      choices: [],
    };
    expect(schemaProblems(bad)).toEqual([
      "labels[0].color: red is not #rrggbb",
      "labels[1]: cat is there twice",
      "labels[1].hotkey: 1 is taken by cat",
      "choices: the choice tool needs a choice group",
    ]);
    expect(schemaProblems(v1)).toEqual([]);
    expect(schemaProblems({ modality: "text", tools: [], labels: [] })).toEqual(["tools: pick at least one tool"]);
  });
  it("cleans a draft: tools of the modality, trimmed names, blank fields left out", () => {
    const draft: Schema = { modality: "text", tools: ["span", "bbox"], labels: [{ name: " PER ", color: "", hotkey: "" }], choices: [{ name: "s", options: ["a", " ", "b "] }] };
    expect(cleanSchema(draft)).toEqual({ modality: "text", tools: ["span"], labels: [{ name: "PER" }], choices: [{ name: "s", options: ["a", "b"] }] });
  });
});
