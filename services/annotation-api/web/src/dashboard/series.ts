import type { AnnotatorDashboard, Compared, PersonSeries, ProjectDashboard } from "./types";

/** Columnar data for a chart: x in Unix seconds, one array per line (null = no value in that bucket). */
export interface ChartData {
  x: number[];
  lines: { label: string; values: (number | null)[] }[];
}

export const STATE_ORDER = ["unassigned", "assigned", "in_progress", "submitted", "under_review", "rejected", "accepted", "gold"];

export function seconds(isoTimes: readonly string[]): number[] {
  return isoTimes.map((t) => Math.floor(new Date(t).getTime() / 1000));
}

export function personLines(people: readonly PersonSeries[], scale = 1): ChartData["lines"] {
  return people.map((p) => ({
    label: p.username ?? p.annotator_id.slice(0, 8),
    values: p.series.map((v) => (v == null ? null : v * scale)),
  }));
}

/** Throughput by annotator or by task type, per bucket. */
export function throughputChart(d: ProjectDashboard, by: "annotator" | "task_type"): ChartData {
  const lines =
    by === "annotator"
      ? personLines(d.throughput.by_annotator)
      : d.throughput.by_task_type.map((t) => ({ label: t.task_type, values: t.series }));
  return { x: seconds(d.buckets), lines };
}

/** Median and p95 time per task (seconds), per bucket. */
export function taskTimeChart(d: ProjectDashboard): ChartData {
  const s = d.task_time.series;
  return {
    x: seconds(d.buckets),
    lines: [
      { label: "median (s)", values: s.map((p) => (p ? p.median_ms / 1000 : null)) },
      { label: "p95 (s)", values: s.map((p) => (p ? p.p95_ms / 1000 : null)) },
    ],
  };
}

/** Percentages per bucket: the project's line first, then one per annotator. */
export function qualityChart(d: ProjectDashboard, which: "agreement" | "gold_accuracy"): ChartData {
  const figure = d[which];
  return {
    x: seconds(d.buckets),
    lines: [
      { label: "project", values: figure.series.map((v) => (v == null ? null : v * 100)) },
      ...personLines(figure.by_annotator, 100),
    ],
  };
}

export function rejectionChart(d: ProjectDashboard): ChartData {
  const pct = (v: number | null) => (v == null ? null : v * 100);
  return {
    x: seconds(d.buckets),
    lines: [
      { label: "rejected %", values: d.decisions.series.map((p) => pct(p.rejection_rate)) },
      { label: "sent to review %", values: d.decisions.series.map((p) => pct(p.review_rate)) },
    ],
  };
}

/** Items per state at each bucket's end; states in the state machine's order, only those that occur. */
export function queueChart(d: ProjectDashboard): ChartData {
  const seen = new Set<string>();
  for (const point of d.queue.series) for (const state of Object.keys(point.states)) seen.add(state);
  const states = [...STATE_ORDER.filter((s) => seen.has(s)), ...[...seen].filter((s) => !STATE_ORDER.includes(s)).sort()];
  return {
    x: seconds(d.queue.series.map((p) => p.at)),
    lines: states.map((state) => ({ label: state, values: d.queue.series.map((p) => p.states[state] ?? 0) })),
  };
}

export function myChart(d: AnnotatorDashboard, which: "submissions" | "gold_accuracy"): ChartData {
  const values = d.series[which].map((v) => (v == null ? null : which === "submissions" ? v : v * 100));
  return { x: seconds(d.buckets), lines: [{ label: which === "submissions" ? "submissions" : "gold accuracy %", values }] };
}

/** Lower is better for times and rejections, higher for the rest. */
export const HIGHER_IS_BETTER: Record<Compared, boolean> = {
  per_hour: true,
  median_ms: false,
  p95_ms: false,
  gold_accuracy: true,
  agreement: true,
  rejection_rate: false,
};

/** How a figure compares with the project's median: "better", "worse", "even" or "n/a" (either missing). */
export function versusMedian(key: Compared, mine: number | null, median: number | null): "better" | "worse" | "even" | "n/a" {
  if (mine == null || median == null) return "n/a";
  const scale = Math.max(Math.abs(mine), Math.abs(median), 1e-9);
  if (Math.abs(mine - median) / scale < 0.005) return "even";
  return mine > median === HIGHER_IS_BETTER[key] ? "better" : "worse";
}
