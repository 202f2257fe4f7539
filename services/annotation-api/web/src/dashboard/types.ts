/** The shapes of GET /projects/{id}/dashboard and GET /projects/{id}/dashboard/annotators/{id|me}. */

export type Bucket = "hour" | "day";

export interface RangeView {
  start: string;
  end: string;
  bucket: Bucket;
  hours: number;
}

export interface AnnotatorRow {
  annotator_id: string;
  username: string | null;
  submissions: number;
  per_hour: number;
  timed_tasks: number;
  median_ms: number | null;
  p95_ms: number | null;
  gold_scored: number;
  gold_accuracy: number | null;
  agreement: number | null;
  closed: number;
  rejected: number;
  rejection_rate: number | null;
}

export interface PersonSeries {
  annotator_id: string;
  username: string | null;
  total: number | null;
  series: (number | null)[];
}

export interface TaskTimePoint {
  tasks: number;
  median_ms: number;
  p95_ms: number;
}

export interface ProjectDashboard {
  project_id: string;
  range: RangeView;
  buckets: string[];
  throughput: {
    total: number;
    per_hour: number;
    series: number[];
    by_annotator: PersonSeries[];
    by_task_type: { task_type: string; total: number; series: number[] }[];
  };
  task_time: { tasks: number; median_ms: number | null; p95_ms: number | null; series: (TaskTimePoint | null)[] };
  agreement: { scored: number; mean: number | null; series: (number | null)[]; by_annotator: PersonSeries[] };
  gold_accuracy: { scored: number; mean: number | null; series: (number | null)[]; by_annotator: PersonSeries[] };
  decisions: {
    decided: number;
    accepted: number;
    rejected: number;
    reviewed: number;
    in_review: number;
    rejection_rate: number | null;
    review_rate: number | null;
    series: { decided: number; rejection_rate: number | null; review_rate: number | null }[];
  };
  queue: { now: Record<string, number>; series: { at: string; states: Record<string, number> }[] };
  annotators: AnnotatorRow[];
}

export type Compared = "per_hour" | "median_ms" | "p95_ms" | "gold_accuracy" | "agreement" | "rejection_rate";

export interface AnnotatorDashboard {
  project_id: string;
  range: RangeView;
  buckets: string[];
  annotator: AnnotatorRow;
  project_median: Record<Compared, number | null>;
  annotators_compared: number;
  series: {
    submissions: number[];
    gold_accuracy: (number | null)[];
    agreement: (number | null)[];
    rejection_rate: (number | null)[];
  };
}
