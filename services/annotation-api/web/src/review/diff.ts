// Where annotators disagree: every region of every version is matched one-to-one against each other version
// (same type and label, and close enough: box IoU, bounds IoU for polygons/keypoints, exact code points for spans,
// matched endpoints for relations). A region matched in every other version is "agreed", else "disputed";
// choice groups are compared value by value.
import type { Region } from "../api/types";
import { rleBounds, type CocoRle } from "../lib/rle";

export type Status = "agreed" | "disputed";

export interface Version {
  taskId: string;
  annotator: string;
  result: readonly Region[];
}

export interface RegionDiff {
  region: Region;
  index: number;
  status: Status;
  /** How many other versions have a matching region. */
  matches: number;
}

export interface VersionDiff {
  taskId: string;
  annotator: string;
  regions: RegionDiff[];
  disputed: number;
}

export interface ChoiceRow {
  name: string;
  /** The value each version gave (null: none), in the versions' order. */
  values: (string | null)[];
  agreed: boolean;
}

export interface Disagreement {
  versions: VersionDiff[];
  choices: ChoiceRow[];
  /** Disputed regions (over all versions) plus disputed choice groups. */
  disputed: number;
}

export const MATCH_IOU = 0.5;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

export function regionBox(r: Region): Box | null {
  if (r.type === "bbox" && num(r.x) && num(r.y) && num(r.w) && num(r.h)) return { x: r.x, y: r.y, w: r.w, h: r.h };
  if (Array.isArray(r.points)) {
    const pts = (r.points as unknown[]).filter(
      (p): p is number[] => Array.isArray(p) && num(p[0]) && num(p[1]) && (p.length < 3 || p[2] !== 0),
    );
    if (pts.length === 0) return null;
    const xs = pts.map((p) => p[0]!);
    const ys = pts.map((p) => p[1]!);
    const x = Math.min(...xs);
    const y = Math.min(...ys);
    return { x, y, w: Math.max(...xs) - x, h: Math.max(...ys) - y };
  }
  if (r.type === "mask" && r.rle && typeof r.rle === "object") {
    try {
      return rleBounds(r.rle as CocoRle);
    } catch {
      return null;
    }
  }
  return null;
}

export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.w * a.h + b.w * b.h - inter;
  if (union <= 0) return a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h ? 1 : 0;
  return inter / union;
}

/** 0..1; 0 means "not the same region". Relations need the matching of their endpoints (`same`). */
export function similarity(a: Region, b: Region, same?: (fromA: string, fromB: string) => boolean): number {
  if (a.type !== b.type || a.label !== b.label) return 0;
  if (a.type === "span") return a.start === b.start && a.end === b.end ? 1 : 0;
  if (a.type === "relation") {
    if (!same || typeof a.from !== "string" || typeof b.from !== "string" || typeof a.to !== "string" || typeof b.to !== "string") return 0;
    return same(a.from, b.from) && same(a.to, b.to) ? 1 : 0;
  }
  if (a.type === "choice") return 0; // compared as a table
  const ba = regionBox(a);
  const bb = regionBox(b);
  if (!ba || !bb) return JSON.stringify(a) === JSON.stringify(b) ? 1 : 0;
  const v = iou(ba, bb);
  return v >= MATCH_IOU ? v : 0;
}

/** One-to-one greedy matching of a's regions to b's (best similarity first): index in a -> index in b. */
export function matchRegions(a: readonly Region[], b: readonly Region[]): Map<number, number> {
  const plain = (rs: readonly Region[]) => rs.map((r, i) => [r, i] as const).filter(([r]) => r.type !== "relation" && r.type !== "choice");
  const greedy = (pa: (readonly [Region, number])[], pb: (readonly [Region, number])[], sim: (x: Region, y: Region) => number) => {
    const pairs: [number, number, number][] = [];
    for (const [ra, ia] of pa) for (const [rb, ib] of pb) {
      const s = sim(ra, rb);
      if (s > 0) pairs.push([s, ia, ib]);
    }
    pairs.sort((p, q) => q[0] - p[0] || p[1] - q[1] || p[2] - q[2]);
    const out = new Map<number, number>();
    const usedB = new Set<number>();
    for (const [, ia, ib] of pairs) {
      if (out.has(ia) || usedB.has(ib)) continue;
      out.set(ia, ib);
      usedB.add(ib);
    }
    return out;
  };
  const matched = greedy(plain(a), plain(b), (x, y) => similarity(x, y));
  const idA = new Map(a.map((r, i) => [typeof r.id === "string" ? r.id : `#${i}`, i]));
  const idB = new Map(b.map((r, i) => [typeof r.id === "string" ? r.id : `#${i}`, i]));
  const same = (fromA: string, fromB: string) => {
    const ia = idA.get(fromA);
    const ib = idB.get(fromB);
    return ia !== undefined && ib !== undefined && matched.get(ia) === ib;
  };
  const relations = (rs: readonly Region[]) => rs.map((r, i) => [r, i] as const).filter(([r]) => r.type === "relation");
  for (const [ia, ib] of greedy(relations(a), relations(b), (x, y) => similarity(x, y, same))) matched.set(ia, ib);
  return matched;
}

function choiceValue(v: unknown): string | null {
  if (Array.isArray(v)) return v.length === 0 ? null : [...v].map(String).sort().join(", ");
  return typeof v === "string" && v !== "" ? v : null;
}

export function choiceRows(versions: readonly Version[]): ChoiceRow[] {
  const names: string[] = [];
  for (const v of versions) for (const r of v.result) if (r.type === "choice" && typeof r.name === "string" && !names.includes(r.name)) names.push(r.name);
  return names.map((name) => {
    const values = versions.map((v) => choiceValue(v.result.find((r) => r.type === "choice" && r.name === name)?.value));
    return { name, values, agreed: values.every((x) => x === values[0]) };
  });
}

export function disagreement(versions: readonly Version[]): Disagreement {
  const matchCounts = versions.map((v) => v.result.map(() => 0));
  for (let i = 0; i < versions.length; i++) {
    for (let j = 0; j < versions.length; j++) {
      if (i === j) continue;
      for (const ia of matchRegions(versions[i]!.result, versions[j]!.result).keys()) matchCounts[i]![ia]! += 1;
    }
  }
  const choices = choiceRows(versions);
  const disputedChoice = new Set(choices.filter((c) => !c.agreed).map((c) => c.name));
  const others = versions.length - 1;
  const out: VersionDiff[] = versions.map((v, i) => {
    const regions: RegionDiff[] = v.result.map((region, index) => {
      const matches = matchCounts[i]![index]!;
      const agreed = region.type === "choice" ? !disputedChoice.has(String(region.name)) : matches >= others;
      return { region, index, matches, status: agreed ? "agreed" : "disputed" };
    });
    return { taskId: v.taskId, annotator: v.annotator, regions, disputed: regions.filter((r) => r.status === "disputed" && r.region.type !== "choice").length };
  });
  return { versions: out, choices, disputed: out.reduce((n, v) => n + v.disputed, 0) + disputedChoice.size };
}

/** Distinct colours for annotators (not the label palette: a version is told apart by who drew it). */
export const ANNOTATOR_COLORS = ["#e6194b", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#d62728", "#8c564b"];

export function annotatorColor(index: number): string {
  return ANNOTATOR_COLORS[index % ANNOTATOR_COLORS.length]!;
}
