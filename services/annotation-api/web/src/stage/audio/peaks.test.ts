import { describe, expect, it } from "vitest";
import { computePeaks, reducePeaks } from "./peaks";

describe("waveform peaks", () => {
  it("takes the min and max of each bucket over all channels", () => {
    const left = new Float32Array([0, 0.5, -0.25, 0.1, 0.9, -0.9, 0.2]);
    const right = new Float32Array([-0.75, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(computePeaks([left, right], 3))).toEqual([-0.75, 0.5, -0.9, 0.9, 0, 0.2].map((v) => Math.fround(v)));
  });
  it("merges peaks for zoomed-out views without losing extremes", () => {
    const sine = new Float32Array(16000).map((_, i) => Math.sin(i / 10));
    const fine = computePeaks([sine], 80);
    expect(fine.length).toBe(400);
    const coarse = reducePeaks(fine, 4);
    expect(coarse.length).toBe(100);
    expect(Math.min(...coarse)).toBeCloseTo(Math.min(...fine));
    expect(Math.max(...coarse)).toBeCloseTo(Math.max(...fine));
    expect(reducePeaks(fine, 1)).toBe(fine);
  });
  it("gives silence for an empty recording", () => {
    expect(computePeaks([new Float32Array(0)], 10).length).toBe(0);
  });
});
