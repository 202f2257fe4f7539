import { describe, expect, it } from "vitest";
import { parseUtc, queryString, rangeQuery, truncate } from "./range";

const NOW = new Date("2026-03-02T10:37:12.000Z");

describe("rangeQuery", () => {
  it("covers the last N whole UTC hours, the last one running", () => {
    expect(rangeQuery({ kind: "preset", id: "24h" }, NOW)).toEqual({
      start: "2026-03-01T11:00:00.000Z",
      end: "2026-03-02T10:37:12.000Z",
      bucket: "hour",
    });
  });
  it("covers the last N UTC days", () => {
    expect(rangeQuery({ kind: "preset", id: "7d" }, NOW)).toMatchObject({ start: "2026-02-24T00:00:00.000Z", bucket: "day" });
  });
  it("reads a custom range as UTC and names the field at fault", () => {
    expect(rangeQuery({ kind: "custom", from: "2026-03-01T08:00", to: "2026-03-01T12:30", bucket: "hour" })).toEqual({
      start: "2026-03-01T08:00:00.000Z",
      end: "2026-03-01T12:30:00.000Z",
      bucket: "hour",
    });
    expect(rangeQuery({ kind: "custom", from: "", to: "2026-03-01T12:30", bucket: "hour" })).toEqual({ error: "from: enter a date and time" });
    expect(rangeQuery({ kind: "custom", from: "2026-03-01T12:30", to: "2026-03-01T12:30", bucket: "hour" })).toEqual({ error: "to must be after from" });
    expect(rangeQuery({ kind: "custom", from: "2020-01-01T00:00", to: "2026-01-01T00:00", bucket: "hour" })).toHaveProperty("error");
  });
});

describe("helpers", () => {
  it("truncates to UTC buckets", () => {
    expect(truncate(NOW, "hour").toISOString()).toBe("2026-03-02T10:00:00.000Z");
    expect(truncate(NOW, "day").toISOString()).toBe("2026-03-02T00:00:00.000Z");
  });
  it("parses datetime-local values only", () => {
    expect(parseUtc("2026-03-02T10:00")?.toISOString()).toBe("2026-03-02T10:00:00.000Z");
    expect(parseUtc("yesterday")).toBeNull();
  });
  it("builds the query string", () => {
    expect(queryString({ start: "a", end: "b", bucket: "day" })).toBe("start=a&end=b&bucket=day");
  });
});
