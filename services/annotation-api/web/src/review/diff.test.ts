import { describe, expect, it } from "vitest";
import type { Region } from "../api/types";
import { choiceRows, disagreement, iou, matchRegions, similarity } from "./diff";

const box = (label: string, x: number, y = 10, w = 40, h = 40, id?: string): Region => ({ type: "bbox", label, x, y, w, h, ...(id ? { id } : {}) });
const span = (label: string, start: number, end: number): Region => ({ type: "span", label, start, end });
const version = (taskId: string, result: Region[]) => ({ taskId, annotator: taskId, result });

describe("iou and similarity", () => {
  it("measures overlap of boxes", () => {
    expect(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 0, y: 0, w: 10, h: 10 })).toBe(1);
    expect(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 5, y: 0, w: 10, h: 10 })).toBeCloseTo(50 / 150);
    expect(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 20, y: 0, w: 10, h: 10 })).toBe(0);
  });
  it("needs the same type and label, and enough overlap", () => {
    expect(similarity(box("cat", 10), box("cat", 12))).toBeGreaterThan(0.5);
    expect(similarity(box("cat", 10), box("dog", 10))).toBe(0);
    expect(similarity(box("cat", 10), box("cat", 40))).toBe(0); // IoU 0.14
    expect(similarity(span("PER", 0, 5), span("PER", 0, 5))).toBe(1);
    expect(similarity(span("PER", 0, 5), span("PER", 0, 6))).toBe(0);
  });
  it("uses the bounds of polygons and ignores unlabelled keypoints", () => {
    const a: Region = { type: "polygon", label: "p", points: [[0, 0], [10, 0], [10, 10]] };
    const b: Region = { type: "polygon", label: "p", points: [[0, 0], [10, 0], [10, 10], [0, 10]] };
    expect(similarity(a, b)).toBe(1);
    const k1: Region = { type: "keypoints", label: "f", points: [[0, 0, 2], [10, 10, 2], [500, 500, 0]] };
    const k2: Region = { type: "keypoints", label: "f", points: [[0, 0, 2], [10, 10, 2], [0, 0, 0]] };
    expect(similarity(k1, k2)).toBe(1);
  });
});

describe("matchRegions", () => {
  it("matches one to one, best first", () => {
    const a = [box("cat", 10), box("cat", 14)];
    const b = [box("cat", 14)];
    expect([...matchRegions(a, b)]).toEqual([[1, 0]]);
  });
  it("matches relations through their matched endpoints", () => {
    const a: Region[] = [box("p", 0, 0, 40, 40, "a1"), box("r", 100, 0, 40, 40, "a2"), { type: "relation", label: "holds", from: "a1", to: "a2" }];
    const b: Region[] = [box("r", 101, 0, 40, 40, "b2"), box("p", 1, 0, 40, 40, "b1"), { type: "relation", label: "holds", from: "b1", to: "b2" }];
    const reversed: Region[] = [...b.slice(0, 2), { type: "relation", label: "holds", from: "b2", to: "b1" }];
    expect(matchRegions(a, b).get(2)).toBe(2);
    expect(matchRegions(a, reversed).has(2)).toBe(false);
  });
});

describe("disagreement", () => {
  it("marks what every other version has as agreed and the rest as disputed", () => {
    const d = disagreement([
      version("t1", [box("cat", 10), box("dog", 200)]),
      version("t2", [box("cat", 12), box("cat", 200)]),
      version("t3", [box("cat", 11)]),
    ]);
    expect(d.versions.map((v) => v.regions.map((r) => r.status))).toEqual([
      ["agreed", "disputed"],
      ["agreed", "disputed"],
      ["agreed"],
    ]);
    expect(d.versions[1]!.regions[1]!.matches).toBe(0);
    expect(d.disputed).toBe(2);
  });
  it("compares choice groups value by value (multiple choices as sets)", () => {
    const rows = choiceRows([
      version("t1", [{ type: "choice", name: "sentiment", value: "pos" }, { type: "choice", name: "tags", value: ["a", "b"] }]),
      version("t2", [{ type: "choice", name: "sentiment", value: "neg" }, { type: "choice", name: "tags", value: ["b", "a"] }]),
      version("t3", [{ type: "choice", name: "tags", value: ["a", "b"] }]),
    ]);
    expect(rows).toEqual([
      { name: "sentiment", values: ["pos", "neg", null], agreed: false },
      { name: "tags", values: ["a, b", "a, b", "a, b"], agreed: true },
    ]);
    const d = disagreement([version("t1", [{ type: "choice", name: "s", value: "x" }]), version("t2", [{ type: "choice", name: "s", value: "y" }])]);
    expect(d.disputed).toBe(1);
    expect(d.versions[0]!.regions[0]!.status).toBe("disputed");
  });
  it("finds nothing to dispute in a single version", () => {
    expect(disagreement([version("t1", [box("cat", 1)])]).disputed).toBe(0);
  });
});
