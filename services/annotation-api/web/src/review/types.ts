// Shapes of the review screen's routes (entrypoints/review.py).
import type { Item, Project, Region } from "../api/types";

export interface ReviewSubmission {
  task_id: string;
  annotator_id: string;
  username: string;
  result: Region[];
  schema_version: number | null;
  lead_time_ms: number;
}

export interface ReviewEntry {
  item: Item;
  round: number;
  reason: string;
  agreement: number | null;
  submissions: ReviewSubmission[];
}

export interface ReviewQueueReply {
  project: Project;
  reviews: ReviewEntry[];
}

export type Decision =
  | { decision: "accept"; round: number; task_id?: string }
  | { decision: "reject"; round: number; feedback: string }
  | { decision: "adjudicate"; round: number; result: Region[] };
