import { describe, expect, it } from "vitest";
import { boxAt, frameAtTime, lerpBox, nextKeyframe, removeKeyframe, timeOfFrame, upsertKeyframe, type Keyframe } from "./interpolate";

const kfs: Keyframe[] = [
  { frame: 0, bbox: [10, 20, 100, 50], attributes: { occluded: false } },
  { frame: 10, bbox: [110, 40, 60, 90], attributes: { occluded: true } },
];

describe("linear interpolation of track boxes", () => {
  it("interpolates every coordinate linearly between keyframes", () => {
    expect(boxAt(kfs, 5)).toEqual({ bbox: [60, 30, 80, 70], attributes: { occluded: false }, keyframe: false });
    expect(boxAt(kfs, 2)!.bbox).toEqual([30, 24, 92, 58]);
    expect(lerpBox([0, 0, 1, 1], [1, 1, 2, 2], 1 / 3)).toEqual([0.33, 0.33, 1.33, 1.33]);
  });
  it("gives the keyframe's own box and attributes on a keyframe", () => {
    expect(boxAt(kfs, 10)).toEqual({ bbox: [110, 40, 60, 90], attributes: { occluded: true }, keyframe: true });
  });
  it("is absent before the first keyframe and holds the last box after the last one", () => {
    expect(boxAt(kfs.slice(1), 3)).toBeNull();
    expect(boxAt(kfs, 25)).toEqual({ bbox: [110, 40, 60, 90], attributes: { occluded: true }, keyframe: false });
  });
  it("keeps keyframes sorted and unique per frame", () => {
    const next = upsertKeyframe(kfs, { frame: 5, bbox: [0, 0, 5, 5] });
    expect(next.map((k) => k.frame)).toEqual([0, 5, 10]);
    expect(upsertKeyframe(next, { frame: 5, bbox: [1, 1, 5, 5] }).filter((k) => k.frame === 5)).toEqual([{ frame: 5, bbox: [1, 1, 5, 5] }]);
    expect(removeKeyframe(next, 5)!.map((k) => k.frame)).toEqual([0, 10]);
    expect(removeKeyframe([kfs[0]!], 0)).toBeNull();
  });
  it("finds the next and previous keyframes", () => {
    expect(nextKeyframe(kfs, 0, 1)).toBe(10);
    expect(nextKeyframe(kfs, 10, 1)).toBeNull();
    expect(nextKeyframe(kfs, 7, -1)).toBe(0);
  });
  it("maps frames to media times and back exactly", () => {
    for (const fps of [24, 25, 29.97, 30, 60])
      for (let f = 0; f < 500; f += 7) {
        expect(frameAtTime(timeOfFrame(f, fps), fps)).toBe(f);
        expect(frameAtTime(f / fps, fps)).toBe(f);
      }
  });
});
