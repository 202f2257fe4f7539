import { describe, expect, it } from "vitest";
import { buildSpanTree, type SpanPiece } from "./spanTree";

const flat = (pieces: SpanPiece[], depth = 0): string[] =>
  pieces.flatMap((p) => [`${"-".repeat(depth)}${p.id}[${p.start},${p.end})${p.first ? "" : "+"}`, ...flat(p.children, depth + 1)]);

describe("span layout", () => {
  it("keeps disjoint spans flat and in order", () => {
    expect(flat(buildSpanTree([{ id: "b", start: 10, end: 12 }, { id: "a", start: 0, end: 5 }]))).toEqual(["a[0,5)", "b[10,12)"]);
  });

  it("nests contained spans", () => {
    expect(flat(buildSpanTree([{ id: "inner", start: 2, end: 4 }, { id: "outer", start: 0, end: 10 }]))).toEqual(["outer[0,10)", "-inner[2,4)"]);
  });

  it("cuts crossing spans into pieces", () => {
    expect(flat(buildSpanTree([{ id: "a", start: 0, end: 6 }, { id: "b", start: 4, end: 9 }]))).toEqual(["a[0,6)", "-b[4,6)", "b[6,9)+"]);
  });

  it("drops empty spans", () => {
    expect(buildSpanTree([{ id: "e", start: 3, end: 3 }])).toEqual([]);
  });
});
