// Segment editing on a timeline, in seconds. Pure: the audio stage and the tests use it.
import type { EditorRegion } from "../../editor/regions";

/** Shorter drags are clicks (seek), not segments. */
export const MIN_SEGMENT_S = 0.05;

export interface SegmentRegion extends EditorRegion {
  type: "segment";
  label: string;
  start: number;
  end: number;
  text?: string;
}

export type SegmentHit = { id: string; part: "start" | "end" | "body" };

export function isSegment(r: EditorRegion): r is SegmentRegion {
  return r.type === "segment" && typeof r.start === "number" && typeof r.end === "number";
}

/** Milliseconds are precise enough and keep the stored numbers short. */
export function roundTime(t: number): number {
  return Math.round(t * 1000) / 1000;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** The segment a drag from a to b makes (either direction), inside [0, duration]; null when it is a click. */
export function segmentFromDrag(a: number, b: number, duration: number): { start: number; end: number } | null {
  const start = roundTime(clamp(Math.min(a, b), 0, duration));
  const end = roundTime(clamp(Math.max(a, b), 0, duration));
  return end - start >= MIN_SEGMENT_S ? { start, end } : null;
}

/** Move one edge to t; the edge stops MIN_SEGMENT_S short of the other one and inside [0, duration]. */
export function resizeSegment(seg: { start: number; end: number }, edge: "start" | "end", t: number, duration: number): { start: number; end: number } {
  if (edge === "start") return { start: roundTime(clamp(t, 0, seg.end - MIN_SEGMENT_S)), end: seg.end };
  return { start: seg.start, end: roundTime(clamp(t, seg.start + MIN_SEGMENT_S, duration)) };
}

/** The segment playing at t: the shortest one containing it (nested segments: the inner one). */
export function segmentAt<T extends { start: number; end: number }>(segments: readonly T[], t: number): T | null {
  let best: T | null = null;
  for (const s of segments) if (t >= s.start && t < s.end && (!best || s.end - s.start < best.end - best.start)) best = s;
  return best;
}

/** What is under time t: an edge within `tol` seconds (the selected segment's edges first), else a body. */
export function hitSegment(segments: readonly SegmentRegion[], t: number, tol: number, selectedId: string | null = null): SegmentHit | null {
  const ordered = [...segments].sort((a, b) => (a.id === selectedId ? -1 : b.id === selectedId ? 1 : 0));
  for (const s of ordered) {
    if (Math.abs(t - s.start) <= tol) return { id: s.id, part: "start" };
    if (Math.abs(t - s.end) <= tol) return { id: s.id, part: "end" };
  }
  const body = segmentAt(ordered, t);
  return body ? { id: body.id, part: "body" } : null;
}

export function formatTime(t: number): string {
  const m = Math.floor(t / 60);
  const s = t - m * 60;
  return `${m}:${s.toFixed(3).padStart(6, "0")}`;
}
