// Box tracks: keyframes and the linear interpolation of boxes between them. Pure: the video stage and the tests
// use it. A track is present from its first keyframe on; between two keyframes its box is interpolated
// linearly; after the last one the last box holds. Per-frame attributes are steps: a frame has the attributes
// of the keyframe at or before it.

export type BBox = [number, number, number, number];

export interface Keyframe {
  frame: number;
  bbox: BBox;
  attributes?: Record<string, unknown>;
}

export interface TrackBox {
  bbox: BBox;
  attributes: Record<string, unknown>;
  /** The frame is one of the keyframes. */
  keyframe: boolean;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

export function lerpBox(a: BBox, b: BBox, t: number): BBox {
  return [0, 1, 2, 3].map((i) => round2(a[i]! + (b[i]! - a[i]!) * t)) as BBox;
}

/** The index of the last keyframe at or before `frame` (keyframes sorted), -1 when none. */
function before(keyframes: readonly Keyframe[], frame: number): number {
  let lo = 0;
  let hi = keyframes.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (keyframes[mid]!.frame <= frame) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** The track's box at `frame`, or null before its first keyframe. */
export function boxAt(keyframes: readonly Keyframe[], frame: number): TrackBox | null {
  const i = before(keyframes, frame);
  if (i < 0) return null;
  const a = keyframes[i]!;
  const attributes = { ...(a.attributes ?? {}) };
  if (a.frame === frame) return { bbox: [...a.bbox] as BBox, attributes, keyframe: true };
  const b = keyframes[i + 1];
  if (!b) return { bbox: [...a.bbox] as BBox, attributes, keyframe: false };
  return { bbox: lerpBox(a.bbox, b.bbox, (frame - a.frame) / (b.frame - a.frame)), attributes, keyframe: false };
}

/** The keyframes with `kf` set at its frame (replacing one there), in frame order. */
export function upsertKeyframe(keyframes: readonly Keyframe[], kf: Keyframe): Keyframe[] {
  const rest = keyframes.filter((k) => k.frame !== kf.frame);
  return [...rest, kf].sort((a, b) => a.frame - b.frame);
}

/** The keyframes without the one at `frame` (a track keeps at least one keyframe: null when it would lose it). */
export function removeKeyframe(keyframes: readonly Keyframe[], frame: number): Keyframe[] | null {
  const rest = keyframes.filter((k) => k.frame !== frame);
  return rest.length === 0 ? null : rest;
}

/** The next keyframe after `frame` (dir 1) or the previous one before it (dir -1), or null. */
export function nextKeyframe(keyframes: readonly Keyframe[], frame: number, dir: 1 | -1): number | null {
  const frames = keyframes.map((k) => k.frame);
  if (dir > 0) return frames.find((f) => f > frame) ?? null;
  return [...frames].reverse().find((f) => f < frame) ?? null;
}

/** Frame index shown at media time t (seconds) at `fps`; frames start at t = index / fps. */
export function frameAtTime(t: number, fps: number): number {
  return Math.max(0, Math.floor(t * fps + 1e-6));
}

/** The media time to seek to for a frame: its middle, so that rounding never lands on its neighbour. */
export function timeOfFrame(frame: number, fps: number): number {
  return (frame + 0.5) / fps;
}
