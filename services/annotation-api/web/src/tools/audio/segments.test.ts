import { describe, expect, it } from "vitest";
import { hitSegment, MIN_SEGMENT_S, resizeSegment, segmentAt, segmentFromDrag, type SegmentRegion } from "./segments";

const seg = (id: string, start: number, end: number): SegmentRegion => ({ type: "segment", id, label: "speech", start, end, text: "" });

describe("segment editing", () => {
  it("makes a segment from a drag in either direction, inside the audio", () => {
    expect(segmentFromDrag(2.5, 1.25, 10)).toEqual({ start: 1.25, end: 2.5 });
    expect(segmentFromDrag(-1, 0.5, 10)).toEqual({ start: 0, end: 0.5 });
    expect(segmentFromDrag(9.5, 12, 10)).toEqual({ start: 9.5, end: 10 });
    expect(segmentFromDrag(1, 1 + MIN_SEGMENT_S / 2, 10)).toBeNull();
    expect(segmentFromDrag(0.12345, 0.98765, 10)).toEqual({ start: 0.123, end: 0.988 });
  });
  it("resizes one edge, never past the other one or the ends", () => {
    const s = { start: 1, end: 2 };
    expect(resizeSegment(s, "start", 0.5, 10)).toEqual({ start: 0.5, end: 2 });
    expect(resizeSegment(s, "start", 3, 10)).toEqual({ start: 2 - MIN_SEGMENT_S, end: 2 });
    expect(resizeSegment(s, "end", 12, 10)).toEqual({ start: 1, end: 10 });
    expect(resizeSegment(s, "end", -4, 10)).toEqual({ start: 1, end: 1 + MIN_SEGMENT_S });
  });
  it("finds the segment playing at a time (the inner one when nested)", () => {
    const all = [seg("a", 0, 5), seg("b", 1, 2)];
    expect(segmentAt(all, 1.5)!.id).toBe("b");
    expect(segmentAt(all, 3)!.id).toBe("a");
    expect(segmentAt(all, 5)).toBeNull();
  });
  it("hits edges before bodies, the selected segment's edges first", () => {
    const all = [seg("a", 0, 2), seg("b", 2, 4)];
    expect(hitSegment(all, 1.98, 0.05)).toEqual({ id: "a", part: "end" });
    expect(hitSegment(all, 1.98, 0.05, "b")).toEqual({ id: "b", part: "start" });
    expect(hitSegment(all, 3, 0.05)).toEqual({ id: "b", part: "body" });
    expect(hitSegment(all, 5, 0.05)).toBeNull();
  });
});
