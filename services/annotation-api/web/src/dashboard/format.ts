import type { Bucket } from "./types";

export const DASH = "–";

/** 850 ms, 12.3 s, 4m 05s, 1h 02m. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return DASH;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.round(s);
  if (total < 3600) return `${Math.floor(total / 60)}m ${String(total % 60).padStart(2, "0")}s`;
  const minutes = Math.round(total / 60);
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

/** 0.875 -> "87.5%". */
export function formatPercent(x: number | null | undefined): string {
  return x == null || !Number.isFinite(x) ? DASH : `${(x * 100).toFixed(1)}%`;
}

export function formatNumber(x: number | null | undefined, digits = 2): string {
  return x == null || !Number.isFinite(x) ? DASH : x.toFixed(digits);
}

/** A bucket's start as its UTC label: "03-02 10:00" by the hour, "2026-03-02" by the day. */
export function bucketLabel(iso: string, bucket: Bucket): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const text = at.toISOString();
  return bucket === "day" ? text.slice(0, 10) : `${text.slice(5, 10)} ${text.slice(11, 16)}`;
}
