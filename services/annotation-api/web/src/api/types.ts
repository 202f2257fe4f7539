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
  attributes?: unknown[];
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

/** One annotation region. Known types have guards in editor/regions.ts; others pass through untouched. */
export interface Region {
  type: string;
  id?: string;
  label?: string;
  attributes?: Record<string, unknown>;
  score?: number;
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
}

export interface Violation {
  rule?: string;
  message: string;
  region_index?: number | null;
}
