// Track regions and their editing, pure (the stage and the tests use it).
import type { EditorRegion } from "../../editor/regions";
import type { AttributeSpec, Schema } from "../../api/types";
import { boxAt, type BBox, type Keyframe } from "./interpolate";

export interface TrackRegion extends EditorRegion {
  type: "track";
  label: string;
  track_id: string | number;
  keyframes: Keyframe[];
}

export function isTrack(r: EditorRegion): r is TrackRegion {
  return r.type === "track" && Array.isArray(r.keyframes);
}

/** Per-frame attributes: the schema's boolean attributes for the track tool, else "occluded". */
export function frameAttributes(schema: Pick<Schema, "attributes">): string[] {
  const named = (schema.attributes ?? []).filter((a: AttributeSpec) => (a.type ?? "boolean") === "boolean" && a.tools?.includes("track")).map((a) => a.name);
  return named.length > 0 ? named : ["occluded"];
}

/** The track's boxes at frame f of every track present there. */
export function tracksAt(tracks: readonly TrackRegion[], frame: number) {
  return tracks.flatMap((t) => {
    const at = boxAt(t.keyframes, frame);
    return at ? [{ track: t, ...at }] : [];
  });
}

/** The next free track id ("1", "2", ...). */
export function nextTrackId(tracks: readonly TrackRegion[]): string {
  const used = new Set(tracks.map((t) => String(t.track_id)));
  let n = tracks.length + 1;
  while (used.has(String(n))) n++;
  return String(n);
}

export function clampBox(b: BBox, width: number, height: number): BBox {
  const x = Math.max(0, Math.min(b[0], width - 1));
  const y = Math.max(0, Math.min(b[1], height - 1));
  const w = Math.max(1, Math.min(b[2], width - x));
  const h = Math.max(1, Math.min(b[3], height - y));
  return [x, y, w, h].map((v) => Math.round(v * 100) / 100) as BBox;
}

export function formatBox(b: BBox): string {
  return b.map((v) => String(Math.round(v * 100) / 100)).join(",");
}
