import { describe, expect, it } from "vitest";
import { annotatorDashboard, projectDashboard } from "./fixtures";
import { myChart, qualityChart, queueChart, rejectionChart, taskTimeChart, throughputChart, versusMedian } from "./series";

const X = [Date.parse("2026-03-02T09:00:00Z") / 1000, Date.parse("2026-03-02T10:00:00Z") / 1000];

describe("chart data", () => {
  it("throughput by annotator (named, or the id's start) and by task type", () => {
    expect(throughputChart(projectDashboard(), "annotator")).toEqual({
      x: X,
      lines: [
        { label: "ann", values: [3, 1] },
        { label: "u-bob", values: [1, 1] },
      ],
    });
    expect(throughputChart(projectDashboard(), "task_type").lines.map((l) => l.label)).toEqual(["gold", "regular"]);
  });
  it("time per task in seconds, a gap where a bucket had none", () => {
    expect(taskTimeChart(projectDashboard()).lines).toEqual([
      { label: "median (s)", values: [4, null] },
      { label: "p95 (s)", values: [9, null] },
    ]);
  });
  it("quality in percent, the project first", () => {
    const chart = qualityChart(projectDashboard(), "gold_accuracy");
    expect(chart.lines).toEqual([
      { label: "project", values: [50, null] },
      { label: "ann", values: [100, null] },
    ]);
    expect(rejectionChart(projectDashboard()).lines[0]!.values).toEqual([0, 100]);
  });
  it("queue depth: states in the state machine's order, unknown ones last, zero where absent", () => {
    const chart = queueChart(projectDashboard());
    expect(chart.x).toEqual([X[1], X[1]! + 1800]);
    expect(chart.lines).toEqual([
      { label: "unassigned", values: [3, 1] },
      { label: "accepted", values: [0, 2] },
      { label: "gold", values: [1, 1] },
      { label: "mystery", values: [0, 1] },
    ]);
  });
  it("an annotator's own lines", () => {
    expect(myChart(annotatorDashboard(), "gold_accuracy").lines[0]!.values).toEqual([100, null]);
    expect(myChart(annotatorDashboard(), "submissions").lines[0]!.values).toEqual([3, 1]);
  });
});

describe("versusMedian", () => {
  it("knows which way is better", () => {
    expect(versusMedian("per_hour", 3, 2)).toBe("better");
    expect(versusMedian("median_ms", 3000, 2000)).toBe("worse");
    expect(versusMedian("rejection_rate", 0.1, 0.2)).toBe("better");
    expect(versusMedian("gold_accuracy", 0.9, 0.9)).toBe("even");
    expect(versusMedian("agreement", null, 0.9)).toBe("n/a");
  });
});
