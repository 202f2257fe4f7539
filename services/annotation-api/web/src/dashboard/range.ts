import type { Bucket } from "./types";

/** A time range picked on a dashboard: a preset ("the last N buckets") or a custom [from, to). */
export type RangeChoice =
  | { kind: "preset"; id: PresetId }
  | { kind: "custom"; from: string; to: string; bucket: Bucket };

export type PresetId = "24h" | "72h" | "7d" | "30d";

export const PRESETS: readonly { id: PresetId; label: string; bucket: Bucket; buckets: number }[] = [
  { id: "24h", label: "Last 24 hours, by hour", bucket: "hour", buckets: 24 },
  { id: "72h", label: "Last 3 days, by hour", bucket: "hour", buckets: 72 },
  { id: "7d", label: "Last 7 days, by day", bucket: "day", buckets: 7 },
  { id: "30d", label: "Last 30 days, by day", bucket: "day", buckets: 30 },
];

const STEP_MS: Record<Bucket, number> = { hour: 3_600_000, day: 86_400_000 };

/** The start of the UTC hour or day holding `at`. */
export function truncate(at: Date, bucket: Bucket): Date {
  const step = STEP_MS[bucket];
  return new Date(Math.floor(at.getTime() / step) * step);
}

export interface RangeQuery {
  start: string;
  end: string;
  bucket: Bucket;
}

/** The query a choice means now: a preset covers its last N whole UTC buckets (the last one still running);
 * a custom range reads the datetime-local inputs as UTC. An error names the field at fault. */
export function rangeQuery(choice: RangeChoice, now: Date = new Date()): RangeQuery | { error: string } {
  if (choice.kind === "preset") {
    const preset = PRESETS.find((p) => p.id === choice.id) ?? PRESETS[0]!;
    const start = new Date(truncate(now, preset.bucket).getTime() - (preset.buckets - 1) * STEP_MS[preset.bucket]);
    return { start: start.toISOString(), end: now.toISOString(), bucket: preset.bucket };
  }
  const from = parseUtc(choice.from);
  const to = parseUtc(choice.to);
  if (!from) return { error: "from: enter a date and time" };
  if (!to) return { error: "to: enter a date and time" };
  if (to.getTime() <= from.getTime()) return { error: "to must be after from" };
  const buckets = Math.ceil((to.getTime() - truncate(from, choice.bucket).getTime()) / STEP_MS[choice.bucket]);
  if (buckets > 2000) return { error: `that is ${buckets} ${choice.bucket}s; pick a shorter range or a wider bucket` };
  return { start: from.toISOString(), end: to.toISOString(), bucket: choice.bucket };
}

/** "2026-03-02T10:30" (a datetime-local value) as that UTC moment; null when it is not one. */
export function parseUtc(value: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  const at = new Date(`${value}Z`);
  return Number.isNaN(at.getTime()) ? null : at;
}

export function queryString(q: RangeQuery): string {
  return new URLSearchParams({ start: q.start, end: q.end, bucket: q.bucket }).toString();
}
