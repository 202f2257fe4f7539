import { describe, expect, it } from "vitest";
import { bucketLabel, DASH, formatDuration, formatNumber, formatPercent } from "./format";

describe("format", () => {
  it("formats durations at a readable scale", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12_340)).toBe("12.3 s");
    expect(formatDuration(245_000)).toBe("4m 05s");
    expect(formatDuration(3_720_000)).toBe("1h 02m");
    expect(formatDuration(null)).toBe(DASH);
  });
  it("formats ratios and numbers, a dash when missing", () => {
    expect(formatPercent(0.875)).toBe("87.5%");
    expect(formatPercent(1)).toBe("100.0%");
    expect(formatPercent(null)).toBe(DASH);
    expect(formatNumber(2.5)).toBe("2.50");
    expect(formatNumber(Number.NaN)).toBe(DASH);
  });
  it("labels buckets in UTC", () => {
    expect(bucketLabel("2026-03-02T10:00:00Z", "hour")).toBe("03-02 10:00");
    expect(bucketLabel("2026-03-02T00:00:00Z", "day")).toBe("2026-03-02");
  });
});
