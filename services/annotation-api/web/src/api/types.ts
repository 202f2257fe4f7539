// Shapes of the REST API v1 (docs/rest-api.md) and of the public formats (DESIGN.md "Public formats, v1").

export type Role = "admin" | "manager" | "reviewer" | "annotator";
export type Modality = "image" | "text" | "audio" | "video";

export interface Me {
  id: string;
  username: string;
  role: Role;
}

export interface LabelSpec {
  name: string;
  color?: string | null;
  hotkey?: string | null;
  /** The tools this label is for (e.g. ["relation"]); all labelled tools when absent. */
  tools?: string[] | null;
  /** Keypoint names of this label's skeleton, in the order of a keypoints region's points. */
  keypoints?: string[] | null;
  /** Pairs of 1-based keypoint indices joined by a line, as in COCO categories. */
  skeleton?: [number, number][] | null;
}

/** One attribute of regions (schema.attributes): a value per region in region.attributes[name]. */
export interface AttributeSpec {
  name: string;
  type?: "boolean" | "choice" | "text" | "number";
  options?: string[];
  /** Only for regions with one of these labels (all when absent). */
  labels?: string[];
  /** Only for regions of these types (all labelled regions when absent). */
  tools?: string[];
}

export interface ChoiceGroup {
  name: string;
  options: string[];
  multiple?: boolean;
}

export interface Schema {
  modality: Modality;
  labels?: LabelSpec[];
  tools?: string[];
  choices?: ChoiceGroup[];
  attributes?: AttributeSpec[];
  rules?: Record<string, unknown>;
  guidelines?: string | null;
}

export interface Project {
  id: string;
  name: string;
  schema: Schema;
  policy: Record<string, unknown>;
  schema_version?: number;
  created_at?: string;
}

export interface Item {
  id: string;
  external_id?: string | null;
  modality: Modality;
  media_url?: string | null;
  text?: string | null;
  width?: number | null;
  height?: number | null;
  meta?: Record<string, unknown>;
}

/** Where a region came from when a model proposed it: the model version, and whether a person changed it. */
export interface Origin {
  model_version: string;
  edited: boolean;
}

/** One annotation region. Known types have guards in editor/regions.ts; others pass through untouched. */
export interface Region {
  type: string;
  id?: string;
  label?: string;
  attributes?: Record<string, unknown>;
  score?: number;
  origin?: Origin;
  [key: string]: unknown;
}

export interface BboxRegion extends Region {
  type: "bbox";
  label: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface SpanRegion extends Region {
  type: "span";
  label: string;
  /** Unicode code points of the original text, end exclusive. */
  start: number;
  end: number;
}

export interface PolygonRegion extends Region {
  type: "polygon" | "polyline";
  label: string;
  points: [number, number][];
}

export interface KeypointsRegion extends Region {
  type: "keypoints";
  label: string;
  /** [x, y, v]: v 0 not labelled, 1 labelled but hidden, 2 visible (COCO). */
  points: [number, number, number][];
}

export interface MaskRegion extends Region {
  type: "mask";
  label: string;
  /** COCO RLE, column-major; counts compressed (string) or a list of run lengths. */
  rle: { size: [number, number]; counts: string | number[] };
}

export interface RelationRegion extends Region {
  type: "relation";
  label: string;
  from: string;
  to: string;
}

export interface ChoiceRegion extends Region {
  type: "choice";
  name: string;
  value: string | string[];
}

export interface Prediction {
  model_version?: string | null;
  score?: number | null;
  result: Region[];
}

export interface Task {
  id: string;
  project_id: string;
  state: string;
  lease_expires_at?: string | null;
  item: Item;
  predictions?: Prediction[];
  result?: Region[] | null;
  round?: number;
  /** The reviewer's feedback when the item was rejected in an earlier round. */
  feedback?: string | null;
}

export interface LeaseReply {
  tasks: Task[];
  reason: string | null;
}

export interface Draft {
  task_id: string;
  result: Region[];
  lead_time_ms: number;
  updated_at: string;
}

export interface Comment {
  id: string;
  item_id: string;
  task_id: string;
  user_id: string;
  username: string | null;
  body: string;
  created_at: string;
}

export interface Flag {
  id: string;
  task_id: string;
  reason: string;
  username: string | null;
  created_at: string;
}

/** GET /tasks/{id}/rework: the rejected round's annotation next to the reviewer's feedback. */
export interface Rework {
  round: number;
  feedback: string | null;
  previous: { round: number; task_id: string; result: Region[] } | null;
}

/** POST /tasks/{id}/assist (README, "Workspace API"): 501 until preannotate serves an interactive model. */
export interface AssistRequest {
  kind: "box_to_polygon" | "click_to_segment";
  label?: string;
  region?: Region;
  /** [x, y, positive] in image pixels. */
  points?: [number, number, number][];
}

export interface AssistReply {
  regions: Region[];
  model_version?: string;
}

export interface Violation {
  rule?: string;
  message: string;
  region_index?: number | null;
}
