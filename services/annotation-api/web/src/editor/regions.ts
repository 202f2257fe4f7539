// The editor's regions with undo/redo. Pure: ids are assigned by the callers (see withIds).
//
// Pre-labels (a model's regions) open as PENDING regions that carry `origin: {model_version, edited: false}` and
// the model's `score`. Accepting clears `_pending`; any change to the region accepts it and sets
// `origin.edited`; rejecting removes it. Keys starting with "_" and `score` never leave the editor (toResult).
import type {
  BboxRegion,
  ChoiceRegion,
  KeypointsRegion,
  MaskRegion,
  PolygonRegion,
  Prediction,
  Region,
  RelationRegion,
  SpanRegion,
} from "../api/types";

export type EditorRegion = Region & { id: string; _pending?: boolean };

export interface RegionState {
  regions: EditorRegion[];
  past: EditorRegion[][];
  future: EditorRegion[][];
}

export type RegionAction =
  | { type: "reset"; regions: EditorRegion[] }
  | { type: "add"; region: EditorRegion }
  | { type: "addMany"; regions: EditorRegion[] }
  | { type: "update"; id: string; patch: Partial<Region> }
  /** Removes the region and the relations that point at it. */
  | { type: "remove"; id: string }
  /** Set (or, with null or [], clear) the value of a choice group. */
  | { type: "setChoice"; id: string; name: string; value: string | string[] | null }
  /** Accept pending pre-labels (the given ones, or every pending one). */
  | { type: "accept"; ids: readonly string[] | "all" }
  /** Reject pre-labels: they are removed (the given ones, or every pending one). */
  | { type: "reject"; ids: readonly string[] | "all" }
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

/** The region after a person changed it: accepted, and marked edited when a model proposed it. */
function edited(region: EditorRegion, patch: Partial<Region>): EditorRegion {
  const next = { ...region, ...patch, id: region.id } as EditorRegion;
  delete next._pending;
  if (region.origin && !("origin" in patch)) next.origin = { ...region.origin, edited: true };
  return next;
}

/** Drop the regions in `ids` and every relation that points at one of them. */
function without(regions: readonly EditorRegion[], ids: ReadonlySet<string>): EditorRegion[] {
  const gone = new Set(ids);
  // relations of relations are not allowed, so one pass finds every dependent relation
  for (const r of regions) if (isRelation(r) && (gone.has(r.from) || gone.has(r.to))) gone.add(r.id);
  return regions.filter((r) => !gone.has(r.id));
}

export function regionReducer(state: RegionState, action: RegionAction): RegionState {
  switch (action.type) {
    case "reset":
      return initialRegionState(action.regions);
    case "add":
      if (state.regions.some((r) => r.id === action.region.id)) return state;
      return commit(state, [...state.regions, action.region]);
    case "addMany": {
      const known = new Set(state.regions.map((r) => r.id));
      const fresh = action.regions.filter((r) => !known.has(r.id));
      return fresh.length ? commit(state, [...state.regions, ...fresh]) : state;
    }
    case "update": {
      const target = state.regions.find((r) => r.id === action.id);
      if (!target || sameValues(target, action.patch)) return state;
      return commit(state, state.regions.map((r) => (r.id === action.id ? edited(r, action.patch) : r)));
    }
    case "remove":
      if (!state.regions.some((r) => r.id === action.id)) return state;
      return commit(state, without(state.regions, new Set([action.id])));
    case "setChoice": {
      const empty = action.value === null || (Array.isArray(action.value) && action.value.length === 0);
      const existing = state.regions.find((r) => isChoice(r) && r.name === action.name);
      if (empty) return existing ? commit(state, state.regions.filter((r) => r !== existing)) : state;
      if (existing) {
        if (JSON.stringify(existing.value) === JSON.stringify(action.value)) return state;
        return commit(state, state.regions.map((r) => (r === existing ? edited(r, { value: action.value as string | string[] }) : r)));
      }
      return commit(state, [...state.regions, { type: "choice", id: action.id, name: action.name, value: action.value as string | string[] }]);
    }
    case "accept": {
      const pick = pickPending(state.regions, action.ids);
      if (pick.size === 0) return state;
      return commit(
        state,
        state.regions.map((r) => {
          if (!pick.has(r.id)) return r;
          const { _pending: _drop, ...rest } = r;
          return rest as EditorRegion;
        }),
      );
    }
    case "reject": {
      const pick = action.ids === "all" ? pickPending(state.regions, "all") : new Set(action.ids.filter((id) => state.regions.some((r) => r.id === id && r.origin)));
      return pick.size === 0 ? state : commit(state, without(state.regions, pick));
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

function pickPending(regions: readonly EditorRegion[], ids: readonly string[] | "all"): Set<string> {
  const wanted = ids === "all" ? null : new Set(ids);
  return new Set(regions.filter((r) => r._pending && (!wanted || wanted.has(r.id))).map((r) => r.id));
}

let counter = 0;
export function newRegionId(): string {
  counter += 1;
  const random = globalThis.crypto?.randomUUID?.().slice(0, 8) ?? Math.random().toString(36).slice(2, 10);
  return `r-${random}-${counter}`;
}

/** Give every region a unique id (keeping the ones it has, unless taken). */
export function withIds(regions: readonly Region[], makeId: () => string = newRegionId): EditorRegion[] {
  // ids may be numbers in imported results: relations refer to them, so both become strings
  const asId = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? String(v) : v);
  const used = new Set<string>();
  return regions.map((r) => {
    const given = asId(r.id);
    const id = typeof given === "string" && given && !used.has(given) ? given : makeId();
    used.add(id);
    return r.type === "relation" ? { ...r, id, from: asId(r.from), to: asId(r.to) } : { ...r, id };
  });
}

function keepTypes(regions: readonly unknown[], allowedTypes: ReadonlySet<string>): Region[] {
  return regions.filter((r): r is Region => !!r && typeof r === "object" && typeof (r as Region).type === "string" && allowedTypes.has((r as Region).type));
}

/** The best prediction: highest score, first on a tie. */
export function bestPrediction(predictions: readonly Prediction[]): Prediction | undefined {
  let best: Prediction | undefined;
  for (const p of predictions) {
    if (!p || !Array.isArray(p.result)) continue;
    if (!best || (p.score ?? -Infinity) > (best.score ?? -Infinity)) best = p;
  }
  return best;
}

/** A prediction's regions as pending pre-labels with their origin and score (the region's, else the prediction's). */
export function prelabelRegions(prediction: Prediction, allowedTypes: ReadonlySet<string>, makeId: () => string = newRegionId): EditorRegion[] {
  const modelVersion = prediction.model_version || "unknown";
  return withIds(keepTypes(prediction.result, allowedTypes), makeId).map((r) => {
    // a prediction stored without a score comes back with 0: no confidence to show
    const own = typeof prediction.score === "number" && prediction.score > 0 ? prediction.score : undefined;
    const score = typeof r.score === "number" ? r.score : own;
    const region: EditorRegion = { ...r, origin: { model_version: modelVersion, edited: false }, _pending: true };
    if (score === undefined) delete region.score;
    else region.score = score;
    return region;
  });
}

/**
 * The regions a task opens with (before drafts): its saved result if any, else the given starting result (a
 * rejected round's annotation), else the best prediction's regions as pending pre-labels. Only region types
 * the schema's tools handle are kept.
 */
export function initialRegions(
  task: { result?: Region[] | null; predictions?: Prediction[] },
  allowedTypes: ReadonlySet<string>,
  makeId: () => string = newRegionId,
  startFrom?: readonly Region[] | null,
): EditorRegion[] {
  if (task.result && task.result.length > 0) return withIds(keepTypes(task.result, allowedTypes), makeId);
  if (startFrom && startFrom.length > 0) return withIds(keepTypes(startFrom, allowedTypes), makeId);
  const best = bestPrediction(task.predictions ?? []);
  return best ? prelabelRegions(best, allowedTypes, makeId) : [];
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isPointList = (v: unknown, size: number): boolean =>
  Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length >= size && isNum(p[0]) && isNum(p[1]));

export function isBbox(r: Region): r is BboxRegion & EditorRegion {
  return r.type === "bbox" && isNum(r.x) && isNum(r.y) && isNum(r.w) && isNum(r.h);
}
export function isSpan(r: Region): r is SpanRegion & EditorRegion {
  return r.type === "span" && isNum(r.start) && isNum(r.end);
}
export function isChoice(r: Region): r is ChoiceRegion & EditorRegion {
  return r.type === "choice" && typeof r.name === "string";
}
export function isPolygon(r: Region): r is PolygonRegion & EditorRegion {
  return (r.type === "polygon" || r.type === "polyline") && isPointList(r.points, 2);
}
export function isKeypoints(r: Region): r is KeypointsRegion & EditorRegion {
  return r.type === "keypoints" && isPointList(r.points, 3);
}
export function isMask(r: Region): r is MaskRegion & EditorRegion {
  const rle = r.rle as MaskRegion["rle"] | undefined;
  return r.type === "mask" && !!rle && Array.isArray(rle.size) && (typeof rle.counts === "string" || Array.isArray(rle.counts));
}
export function isRelation(r: Region): r is RelationRegion & EditorRegion {
  return r.type === "relation" && typeof r.from === "string" && typeof r.to === "string";
}

/** What goes to POST /tasks/{id}/submit: editor-only keys (leading "_") and model scores are dropped. */
export function toResult(regions: readonly EditorRegion[]): Region[] {
  return regions.map((r) => {
    const out: Region = { type: r.type };
    for (const [k, v] of Object.entries(r)) if (!k.startsWith("_") && k !== "score") out[k] = v;
    return out;
  });
}
