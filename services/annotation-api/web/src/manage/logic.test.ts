import { describe, expect, it } from "vitest";
import type { Project } from "../api/types";
import { splitReview } from "./PolicyEditor";
import { expectedAnswer, goldItem } from "./tabs/GoldTab";
import { importPlan } from "./tabs/ImportTab";

describe("import plan", () => {
  it("sends one .json/.jsonl as a list of items and anything else one item per file", () => {
    expect(importPlan([{ name: "items.JSONL" }])).toBe("jsonl");
    expect(importPlan([{ name: "items.json" }])).toBe("json");
    expect(importPlan([{ name: "a.json" }, { name: "b.json" }])).toBe("files");
    expect(importPlan([{ name: "cat.png" }])).toBe("files");
  });
});

describe("gold items", () => {
  const text: Project = { id: "p", name: "t", schema: { modality: "text", tools: ["choice"] }, policy: {} };
  it("builds the item with its expected answer in the import format", () => {
    const answer = expectedAnswer({ sentiment: "neg", topic: "" }, '[{"type": "span", "label": "PER", "start": 0, "end": 3}]');
    expect(answer).toEqual([{ type: "span", label: "PER", start: 0, end: 3 }, { type: "choice", name: "sentiment", value: "neg" }]);
    expect(goldItem(text, " g1 ", "Bad.", answer)).toEqual({ external_id: "g1", text: "Bad.", gold: answer });
    expect(goldItem({ ...text, schema: { modality: "image", tools: ["bbox"] } }, "", "s3://b/k.png", [])).toEqual({ image: "s3://b/k.png", gold: [] });
  });
  it("refuses regions that are not a JSON list", () => {
    expect(() => expectedAnswer({}, '{"type": "span"}')).toThrow("regions: must be a JSON list");
    expect(() => expectedAnswer({}, "[oops")).toThrow(SyntaxError);
  });
});

describe("review policy", () => {
  it("splits the review mode and its sampling rate", () => {
    expect(splitReview("sample:0.25")).toEqual({ mode: "sample", rate: 0.25 });
    expect(splitReview("all")).toEqual({ mode: "all", rate: 0.1 });
    expect(splitReview(undefined)).toEqual({ mode: "disagreements", rate: 0.1 });
  });
});

describe("import from a URL", () => {
  it("takes an https URL as one media item and leaves sources to the source import", async () => {
    const { mediaItem } = await import("./tabs/ImportTab");
    expect(mediaItem("image", "https://example.org/photos/cat.jpg")).toEqual({ external_id: "cat.jpg", image: "https://example.org/photos/cat.jpg" });
    expect(mediaItem("image", "s3://bucket/photos/")).toBeNull();
    expect(mediaItem("text", "https://example.org/a.txt")).toBeNull();
  });
});
