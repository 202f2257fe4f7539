import type { AnnotatorDashboard, ProjectDashboard } from "./types";

/** A small project dashboard as the API returns it (two hourly buckets, two annotators). */
export function projectDashboard(): ProjectDashboard {
  const buckets = ["2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"];
  return {
    project_id: "p1",
    range: { start: buckets[0]!, end: "2026-03-02T10:30:00Z", bucket: "hour", hours: 1.5 },
    buckets,
    throughput: {
      total: 6,
      per_hour: 4,
      series: [4, 2],
      by_annotator: [
        { annotator_id: "u-ann", username: "ann", total: 4, series: [3, 1] },
        { annotator_id: "u-bob", username: null, total: 2, series: [1, 1] },
      ],
      by_task_type: [
        { task_type: "gold", total: 1, series: [1, 0] },
        { task_type: "regular", total: 5, series: [3, 2] },
      ],
    },
    task_time: { tasks: 6, median_ms: 4200, p95_ms: 61_000, series: [{ tasks: 4, median_ms: 4000, p95_ms: 9000 }, null] },
    agreement: { scored: 3, mean: 2 / 3, series: [1, 0.5], by_annotator: [] },
    gold_accuracy: {
      scored: 2,
      mean: 0.5,
      series: [0.5, null],
      by_annotator: [{ annotator_id: "u-ann", username: "ann", total: 1, series: [1, null] }],
    },
    decisions: {
      decided: 3,
      accepted: 2,
      rejected: 1,
      reviewed: 1,
      in_review: 0,
      rejection_rate: 1 / 3,
      review_rate: 1 / 3,
      series: [
        { decided: 2, rejection_rate: 0, review_rate: 0 },
        { decided: 1, rejection_rate: 1, review_rate: 1 },
      ],
    },
    queue: {
      now: { accepted: 2, unassigned: 1, gold: 1 },
      series: [
        { at: "2026-03-02T10:00:00Z", states: { unassigned: 3, gold: 1 } },
        { at: "2026-03-02T10:30:00Z", states: { accepted: 2, unassigned: 1, gold: 1, mystery: 1 } },
      ],
    },
    annotators: [
      {
        annotator_id: "u-ann", username: "ann", submissions: 4, per_hour: 2.6667, timed_tasks: 4, median_ms: 4000,
        p95_ms: 9000, gold_scored: 1, gold_accuracy: 1, agreement: 1, closed: 3, rejected: 1, rejection_rate: 1 / 3,
      },
      {
        annotator_id: "u-bob", username: null, submissions: 2, per_hour: 1.3333, timed_tasks: 2, median_ms: null,
        p95_ms: null, gold_scored: 0, gold_accuracy: null, agreement: null, closed: 0, rejected: 0, rejection_rate: null,
      },
    ],
  };
}

export function annotatorDashboard(): AnnotatorDashboard {
  const p = projectDashboard();
  return {
    project_id: "p1",
    range: p.range,
    buckets: p.buckets,
    annotator: p.annotators[0]!,
    project_median: { per_hour: 2, median_ms: 5000, p95_ms: 9000, gold_accuracy: 0.75, agreement: null, rejection_rate: 0.5 },
    annotators_compared: 2,
    series: { submissions: [3, 1], gold_accuracy: [1, null], agreement: [1, null], rejection_rate: [0.5, 0] },
  };
}
