// The editor's regions with undo/redo. Pure: ids are assigned by the callers (see withIds).
import type { BboxRegion, ChoiceRegion, Prediction, Region, SpanRegion } from "../api/types";

export type EditorRegion = Region & { id: string };

export interface RegionState {
  regions: EditorRegion[];
  past: EditorRegion[][];
  future: EditorRegion[][];
}

export type RegionAction =
  | { type: "reset"; regions: EditorRegion[] }
  | { type: "add"; region: EditorRegion }
  | { type: "update"; id: string; patch: Partial<Region> }
  | { type: "remove"; id: string }
  /** Set (or, with null or [], clear) the value of a choice group. */
  | { type: "setChoice"; id: string; name: string; value: string | string[] | null }
  | { type: "undo" }
  | { type: "redo" };

export const HISTORY_LIMIT = 200;

export function initialRegionState(regions: EditorRegion[] = []): RegionState {
  return { regions, past: [], future: [] };
}

function commit(state: RegionState, regions: EditorRegion[]): RegionState {
  if (regions === state.regions) return state;
  return { regions, past: [...state.past, state.regions].slice(-HISTORY_LIMIT), future: [] };
}

function sameValues(region: Region, patch: Partial<Region>): boolean {
  return Object.entries(patch).every(([k, v]) => JSON.stringify(region[k]) === JSON.stringify(v));
}

export function regionReducer(state: RegionState, action: RegionAction): RegionState {
  switch (action.type) {
    case "reset":
      return initialRegionState(action.regions);
    case "add":
      if (state.regions.some((r) => r.id === action.region.id)) return state;
      return commit(state, [...state.regions, action.region]);
    case "update": {
      const target = state.regions.find((r) => r.id === action.id);
      if (!target || sameValues(target, action.patch)) return state;
      return commit(state, state.regions.map((r) => (r.id === action.id ? ({ ...r, ...action.patch, id: r.id } as EditorRegion) : r)));
    }
    case "remove":
      if (!state.regions.some((r) => r.id === action.id)) return state;
      return commit(state, state.regions.filter((r) => r.id !== action.id));
    case "setChoice": {
      const empty = action.value === null || (Array.isArray(action.value) && action.value.length === 0);
      const existing = state.regions.find((r) => isChoice(r) && r.name === action.name);
      if (empty) return existing ? commit(state, state.regions.filter((r) => r !== existing)) : state;
      if (existing) {
        if (JSON.stringify(existing.value) === JSON.stringify(action.value)) return state;
        return commit(state, state.regions.map((r) => (r === existing ? { ...r, value: action.value as string | string[] } : r)));
      }
      return commit(state, [...state.regions, { type: "choice", id: action.id, name: action.name, value: action.value as string | string[] }]);
    }
    case "undo": {
      const previous = state.past[state.past.length - 1];
      if (!previous) return state;
      return { regions: previous, past: state.past.slice(0, -1), future: [state.regions, ...state.future] };
    }
    case "redo": {
      const [next, ...rest] = state.future;
      if (!next) return state;
      return { regions: next, past: [...state.past, state.regions], future: rest };
    }
  }
}

let counter = 0;
export function newRegionId(): string {
  counter += 1;
  const random = globalThis.crypto?.randomUUID?.().slice(0, 8) ?? Math.random().toString(36).slice(2, 10);
  return `r-${random}-${counter}`;
}

/** Give every region an id (keeping the ones it has). */
export function withIds(regions: readonly Region[], makeId: () => string = newRegionId): EditorRegion[] {
  return regions.map((r) => ({ ...r, id: typeof r.id === "string" && r.id ? r.id : makeId() }));
}

/**
 * The regions a task opens with: its saved result if any, else the best prediction (highest score, first on a tie)
 * so that accepting a pre-label is just submitting. Only region types the schema's tools handle are kept; a model
 * `score` is dropped because the submitted result is the annotator's.
 */
export function initialRegions(
  task: { result?: Region[] | null; predictions?: Prediction[] },
  allowedTypes: ReadonlySet<string>,
  makeId: () => string = newRegionId,
): EditorRegion[] {
  const source = task.result && task.result.length > 0 ? task.result : bestPrediction(task.predictions ?? [])?.result ?? [];
  const kept = source
    .filter((r): r is Region => !!r && typeof r === "object" && typeof r.type === "string" && allowedTypes.has(r.type))
    .map(({ score: _score, ...rest }) => rest as Region);
  return withIds(kept, makeId);
}

function bestPrediction(predictions: readonly Prediction[]): Prediction | undefined {
  let best: Prediction | undefined;
  for (const p of predictions) {
    if (!p || !Array.isArray(p.result)) continue;
    if (!best || (p.score ?? -Infinity) > (best.score ?? -Infinity)) best = p;
  }
  return best;
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

export function isBbox(r: Region): r is BboxRegion & EditorRegion {
  return r.type === "bbox" && isNum(r.x) && isNum(r.y) && isNum(r.w) && isNum(r.h);
}
export function isSpan(r: Region): r is SpanRegion & EditorRegion {
  return r.type === "span" && isNum(r.start) && isNum(r.end);
}
export function isChoice(r: Region): r is ChoiceRegion & EditorRegion {
  return r.type === "choice" && typeof r.name === "string";
}

/** What goes to POST /tasks/{id}/submit. */
export function toResult(regions: readonly EditorRegion[]): Region[] {
  return regions.map((r) => ({ ...r }));
}
