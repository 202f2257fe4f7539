// The video stage: a frame-accurate scrubber (frame index = media time x fps from the item's meta), the frame
// painted by a worker, and box tracks drawn over it: drag on the frame to start a track with the active label,
// drag a box (or its corners) to set a keyframe at this frame; between keyframes boxes are interpolated
// linearly (tools/video/interpolate). Frames: the <video> element decodes (on the browser's media threads); each
// presented frame (requestVideoFrameCallback while playing, "seeked" after a jump) is captured as a VideoFrame
// and transferred to stage/video/frames.worker.ts, which converts it (createImageBitmap) and paints it into an
// OffscreenCanvas, so the main thread never converts or copies pixels. Without WebCodecs/OffscreenCanvas the
// frame is drawn here.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { newRegionId } from "../../editor/regions";
import { boxAt, frameAtTime, nextKeyframe, removeKeyframe, timeOfFrame, upsertKeyframe, type BBox } from "../../tools/video/interpolate";
import { clampBox, formatBox, frameAttributes, isTrack, nextTrackId, tracksAt, type TrackRegion } from "../../tools/video/tracks";
import { newLabel } from "../../tools/shared/session";
import type { ToolProps } from "../../tools/types";
import { registerController } from "../audio/controller";

const DEFAULT_FPS = 25;
const HANDLE_PX = 7;
const MAX_WIDTH = 960;

type Drag =
  | { kind: "create"; x0: number; y0: number; x1: number; y1: number }
  | { kind: "move"; id: string; box: BBox; fromX: number; fromY: number; now: BBox }
  | { kind: "resize"; id: string; box: BBox; corner: number; now: BBox };

type VideoWithCallback = HTMLVideoElement & {
  requestVideoFrameCallback?(cb: (now: number, meta: { mediaTime: number }) => void): number;
  cancelVideoFrameCallback?(handle: number): void;
};

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null;
}

export function VideoStage(props: ToolProps & { onReady?(): void }) {
  const { media, task, schema, regions, labels, selectedId, select, dispatch, editor, invalidIds, onReady } = props;
  const url = media.kind === "video" ? media.url : null;
  const meta = task.item.meta ?? {};
  const fps = num(meta.fps) ?? DEFAULT_FPS;
  const [frameCount, setFrameCount] = useState<number>(num(meta.frame_count) ?? 0);
  const [size, setSize] = useState({ width: task.item.width || 0, height: task.item.height || 0 });
  const [frame, setFrame] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [drag, setDrag] = useState<Drag | null>(null);
  const [mode, setMode] = useState<"worker" | "main">("main");
  const [space, setSpace] = useState(MAX_WIDTH);
  const video = useRef<VideoWithCallback | null>(null);
  const frameCanvas = useRef<HTMLCanvasElement | null>(null);
  const overlay = useRef<HTMLCanvasElement | null>(null);
  const box = useRef<HTMLDivElement | null>(null);
  const worker = useRef<Worker | null>(null);
  const readyFired = useRef(false);
  const frameRef = useRef(0);
  frameRef.current = frame;

  const tracks = useMemo(() => regions.filter(isTrack), [regions]);
  const selected = tracks.find((t) => t.id === selectedId) ?? null;
  const attributeNames = useMemo(() => frameAttributes(schema), [schema]);
  const lastFrame = Math.max(0, frameCount - 1);
  const display = size.width > 0 ? Math.min(space, MAX_WIDTH, size.width * 4) : Math.min(space, MAX_WIDTH);
  const scale = size.width > 0 ? display / size.width : 1;
  const displayH = size.height > 0 ? size.height * scale : display * 0.5625;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setSpace(Math.max(200, el.clientWidth));
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // the frame painter: a worker with an OffscreenCanvas when the browser has WebCodecs' VideoFrame
  useEffect(() => {
    const c = frameCanvas.current;
    if (!c || typeof Worker === "undefined" || typeof VideoFrame === "undefined" || typeof c.transferControlToOffscreen !== "function") return;
    const w = new Worker(new URL("./frames.worker.ts", import.meta.url), { type: "module" });
    const offscreen = c.transferControlToOffscreen();
    w.postMessage({ canvas: offscreen }, [offscreen]);
    w.onmessage = () => {
      if (!readyFired.current) {
        readyFired.current = true;
        onReady?.();
      }
    };
    worker.current = w;
    setMode("worker");
    return () => {
      w.terminate();
      worker.current = null;
    };
  }, [onReady]);

  const paint = useCallback(
    (index: number) => {
      const v = video.current;
      if (!v || v.readyState < 2) return;
      const w = worker.current;
      if (w) {
        try {
          const vf = new VideoFrame(v, { timestamp: Math.round(v.currentTime * 1e6) });
          w.postMessage({ frame: vf, index }, [vf as unknown as Transferable]);
          return;
        } catch {
          // no frame to capture yet
          return;
        }
      }
      const c = frameCanvas.current;
      const ctx = c?.getContext("2d");
      if (!c || !ctx) return;
      if (c.width !== v.videoWidth) c.width = v.videoWidth;
      if (c.height !== v.videoHeight) c.height = v.videoHeight;
      ctx.drawImage(v, 0, 0);
      if (!readyFired.current) {
        readyFired.current = true;
        onReady?.();
      }
    },
    [onReady],
  );

  const seekFrame = useCallback(
    (f: number) => {
      const v = video.current;
      const clamped = Math.max(0, Math.min(lastFrame, Math.round(f)));
      if (v && !v.paused) v.pause();
      setFrame(clamped);
      if (v) v.currentTime = timeOfFrame(clamped, fps);
    },
    [fps, lastFrame],
  );

  // while playing, the frame index follows the presented frames
  useEffect(() => {
    const v = video.current;
    if (!v || !playing) return;
    let handle = 0;
    let raf = 0;
    if (v.requestVideoFrameCallback) {
      const onFrame = (_now: number, m: { mediaTime: number }) => {
        const f = frameAtTime(m.mediaTime, fps);
        setFrame(f);
        paint(f);
        handle = v.requestVideoFrameCallback!(onFrame);
      };
      handle = v.requestVideoFrameCallback(onFrame);
    } else {
      const tick = () => {
        const f = frameAtTime(v.currentTime, fps);
        setFrame(f);
        paint(f);
        raf = requestAnimationFrame(tick);
      };
      raf = requestAnimationFrame(tick);
    }
    return () => {
      if (handle && v.cancelVideoFrameCallback) v.cancelVideoFrameCallback(handle);
      cancelAnimationFrame(raf);
    };
  }, [playing, fps, paint]);

  // the overlay: every track present at this frame
  const present = useMemo(() => tracksAt(tracks, frame), [tracks, frame]);
  const shownBox = (id: string, b: BBox): BBox => (drag && drag.kind !== "create" && drag.id === id ? drag.now : b);
  useEffect(() => {
    const c = overlay.current;
    if (!c) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(display * dpr);
    c.height = Math.round(displayH * dpr);
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, display, displayH);
    for (const p of present) {
      const b = shownBox(p.track.id, p.bbox);
      const color = labels.find((l) => l.name === p.track.label)?.color ?? "#888";
      const sel = p.track.id === selectedId;
      ctx.strokeStyle = invalidIds.has(p.track.id) ? "#d00" : color;
      ctx.lineWidth = sel ? 3 : 2;
      ctx.setLineDash(p.keyframe ? [] : [6, 4]);
      ctx.strokeRect(b[0] * scale, b[1] * scale, b[2] * scale, b[3] * scale);
      ctx.setLineDash([]);
      ctx.fillStyle = color;
      ctx.font = "12px sans-serif";
      const tag = `${p.track.label} #${p.track.track_id}${p.attributes.occluded ? " (occluded)" : ""}`;
      ctx.fillText(tag, b[0] * scale + 2, Math.max(12, b[1] * scale - 3));
      if (sel)
        for (const [hx, hy] of corners(b)) {
          ctx.fillStyle = "#fff";
          ctx.fillRect(hx * scale - 4, hy * scale - 4, 8, 8);
          ctx.strokeRect(hx * scale - 4, hy * scale - 4, 8, 8);
        }
    }
    if (drag?.kind === "create") {
      ctx.strokeStyle = "#3c78dc";
      ctx.setLineDash([4, 3]);
      ctx.strokeRect(Math.min(drag.x0, drag.x1) * scale, Math.min(drag.y0, drag.y1) * scale, Math.abs(drag.x1 - drag.x0) * scale, Math.abs(drag.y1 - drag.y0) * scale);
      ctx.setLineDash([]);
    }
  });

  const setKeyframe = useCallback(
    (t: TrackRegion, f: number, patch: { bbox?: BBox; attributes?: Record<string, unknown> }) => {
      const at = boxAt(t.keyframes, f) ?? { bbox: t.keyframes[0]!.bbox, attributes: {}, keyframe: false };
      const keyframes = upsertKeyframe(t.keyframes, { frame: f, bbox: patch.bbox ?? at.bbox, attributes: patch.attributes ?? at.attributes });
      dispatch({ type: "update", id: t.id, patch: { keyframes } });
    },
    [dispatch],
  );

  const latest = useRef({ seekFrame, selected, tracks, setKeyframe, frame, playing });
  latest.current = { seekFrame, selected, tracks, setKeyframe, frame, playing };
  useEffect(() => {
    registerController(editor, {
      togglePlay() {
        const v = video.current;
        if (!v) return;
        if (v.paused) void v.play().catch((e: unknown) => editor.notify(`Cannot play: ${e instanceof Error ? e.message : String(e)}`));
        else v.pause(); // onPause settles on the frame
      },
      step: (n) => latest.current.seekFrame(latest.current.frame + n),
      keyframe(op) {
        const { selected: t, frame: f, tracks: all } = latest.current;
        if (op === "next" || op === "previous") {
          const dir = op === "next" ? 1 : -1;
          const candidates = (t ? [t] : all).map((tr) => nextKeyframe(tr.keyframes, f, dir)).filter((x): x is number => x !== null);
          if (candidates.length === 0) return editor.notify(`No ${op} keyframe.`);
          return latest.current.seekFrame(dir > 0 ? Math.min(...candidates) : Math.max(...candidates));
        }
        if (!t) return editor.notify("Select a track first (click its box).");
        if (op === "add") return latest.current.setKeyframe(t, f, {});
        if (op === "remove") {
          const rest = removeKeyframe(t.keyframes, f);
          if (!t.keyframes.some((k) => k.frame === f)) return editor.notify(`Frame ${f} is not a keyframe of this track.`);
          if (!rest) return editor.notify("A track keeps at least one keyframe (Delete removes the track).");
          return dispatch({ type: "update", id: t.id, patch: { keyframes: rest } });
        }
        const name = op.slice("toggle:".length);
        const at = boxAt(t.keyframes, f);
        if (!at) return editor.notify(`The track starts after frame ${f}.`);
        latest.current.setKeyframe(t, f, { attributes: { ...at.attributes, [name]: !at.attributes[name] } });
      },
    });
    return () => registerController(editor, null);
  }, [editor, fps, dispatch]);

  const pointAt = (e: React.PointerEvent) => {
    const rect = overlay.current!.getBoundingClientRect();
    return { x: (e.clientX - rect.left) / scale, y: (e.clientY - rect.top) / scale };
  };
  const onPointerDown = (e: React.PointerEvent) => {
    if (e.button !== 0 || size.width <= 0) return;
    (e.target as Element).setPointerCapture?.(e.pointerId);
    if (playing) video.current?.pause();
    const p = pointAt(e);
    const tol = HANDLE_PX / scale;
    if (selected) {
      const at = boxAt(selected.keyframes, frame);
      const corner = at ? corners(at.bbox).findIndex(([hx, hy]) => Math.abs(hx - p.x) <= tol && Math.abs(hy - p.y) <= tol) : -1;
      if (at && corner >= 0) return setDrag({ kind: "resize", id: selected.id, box: at.bbox, corner, now: at.bbox });
    }
    const hits = present.filter((q) => p.x >= q.bbox[0] - tol && p.x <= q.bbox[0] + q.bbox[2] + tol && p.y >= q.bbox[1] - tol && p.y <= q.bbox[1] + q.bbox[3] + tol);
    const hit = hits.find((q) => q.track.id === selectedId) ?? hits[hits.length - 1];
    if (hit) {
      select(hit.track.id);
      return setDrag({ kind: "move", id: hit.track.id, box: hit.bbox, fromX: p.x, fromY: p.y, now: hit.bbox });
    }
    setDrag({ kind: "create", x0: p.x, y0: p.y, x1: p.x, y1: p.y });
  };
  const onPointerMove = (e: React.PointerEvent) => {
    if (!drag) return;
    const p = pointAt(e);
    if (drag.kind === "create") return setDrag({ ...drag, x1: p.x, y1: p.y });
    if (drag.kind === "move") {
      const [x, y, w, h] = drag.box;
      return setDrag({ ...drag, now: clampBox([x + p.x - drag.fromX, y + p.y - drag.fromY, w, h], size.width, size.height) });
    }
    const fixed = corners(drag.box)[3 - drag.corner]!;
    const nx = Math.min(fixed[0], p.x);
    const ny = Math.min(fixed[1], p.y);
    setDrag({ ...drag, now: clampBox([nx, ny, Math.abs(p.x - fixed[0]), Math.abs(p.y - fixed[1])], size.width, size.height) });
  };
  const onPointerUp = () => {
    if (!drag) return;
    setDrag(null);
    if (drag.kind === "create") {
      const w = Math.abs(drag.x1 - drag.x0);
      const h = Math.abs(drag.y1 - drag.y0);
      if (w * scale < 3 || h * scale < 3) return select(null);
      const label = newLabel(editor, "track");
      if (!label) return;
      const bbox = clampBox([Math.min(drag.x0, drag.x1), Math.min(drag.y0, drag.y1), w, h], size.width, size.height);
      const id = newRegionId();
      dispatch({ type: "add", region: { type: "track", id, label, track_id: nextTrackId(tracks), keyframes: [{ frame, bbox, attributes: {} }] } });
      select(id);
      return;
    }
    const t = tracks.find((r) => r.id === drag.id);
    if (t && formatBox(drag.now) !== formatBox(drag.box)) setKeyframe(t, frame, { bbox: drag.now });
  };

  const current = selected ? boxAt(selected.keyframes, frame) : null;
  return (
    <div className="av-stage video-stage" data-testid="video-stage" ref={box}>
      <div className="video-view" style={{ width: display, height: displayH }}>
        <video
          ref={video}
          src={url ?? undefined}
          preload="auto"
          muted
          playsInline
          className="video-source"
          onLoadedMetadata={(e) => {
            const v = e.currentTarget;
            if (!size.width && v.videoWidth) setSize({ width: v.videoWidth, height: v.videoHeight });
            if (!frameCount && Number.isFinite(v.duration)) setFrameCount(Math.max(1, Math.round(v.duration * fps)));
            v.currentTime = timeOfFrame(frameRef.current, fps);
          }}
          onSeeked={() => paint(frameRef.current)}
          onPlay={() => setPlaying(true)}
          onPause={(e) => {
            // playback stopped (or ended): settle on the frame it stopped in, shown exactly
            setPlaying(false);
            seekFrame(frameAtTime(e.currentTarget.currentTime, fps));
          }}
        />
        <canvas ref={frameCanvas} className="video-frame" data-testid="video-frame" data-mode={mode} style={{ width: display, height: displayH }} />
        <canvas ref={overlay} className="video-overlay" data-testid="video-overlay" style={{ width: display, height: displayH }} onPointerDown={onPointerDown} onPointerMove={onPointerMove} onPointerUp={onPointerUp} />
      </div>
      <div className="av-controls">
        <button type="button" onMouseDown={(e) => e.preventDefault()} onClick={() => controllerTogglePlay(video.current)} title="Play or pause (Space)">
          {playing ? "Pause" : "Play"}
        </button>
        <button type="button" onMouseDown={(e) => e.preventDefault()} onClick={() => seekFrame(frame - 1)} title="Previous frame (ArrowLeft)">
          ◀
        </button>
        <input type="range" data-testid="frame-slider" min={0} max={lastFrame} step={1} value={frame} onChange={(e) => seekFrame(Number(e.target.value))} aria-label="frame" />
        <button type="button" onMouseDown={(e) => e.preventDefault()} onClick={() => seekFrame(frame + 1)} title="Next frame (ArrowRight)">
          ▶
        </button>
        <span className="av-time">
          frame <b data-testid="frame-index">{frame}</b> / {lastFrame} · {(frame / fps).toFixed(3)} s · {fps} fps
        </span>
      </div>
      {selected && (
        <div className="track-panel" data-testid="track-panel">
          <div className="keyframe-ticks" title="keyframes of the selected track">
            {selected.keyframes.map((k) => (
              <button
                type="button"
                key={k.frame}
                className={`tick${k.frame === frame ? " current" : ""}`}
                style={{ left: `${lastFrame > 0 ? (k.frame / lastFrame) * 100 : 0}%` }}
                onMouseDown={(e) => e.preventDefault()}
                onClick={() => seekFrame(k.frame)}
                title={`keyframe ${k.frame}`}
              />
            ))}
          </div>
          <span>
            {selected.label} #{String(selected.track_id)} at frame {frame}:{" "}
            <code data-testid="track-box">{current ? formatBox(current.bbox) : "not present"}</code> {current?.keyframe ? "(keyframe)" : current ? "(interpolated)" : ""}
          </span>
          {current &&
            attributeNames.map((name) => (
              <label key={name}>
                <input type="checkbox" data-testid={`frame-attr-${name}`} checked={!!current.attributes[name]} onChange={(e) => setKeyframe(selected, frame, { attributes: { ...current.attributes, [name]: e.target.checked } })} /> {name}
              </label>
            ))}
        </div>
      )}
      <div className="region-markers" hidden>
        {tracks.map((t) => {
          const at = boxAt(t.keyframes, frame);
          return (
            <span
              key={t.id}
              data-testid="region"
              data-region-id={t.id}
              data-type="track"
              data-label={t.label}
              data-track-id={String(t.track_id)}
              data-box={at ? formatBox(at.bbox) : ""}
              data-keyframe={at?.keyframe ? "true" : "false"}
              data-keyframes={t.keyframes.map((k) => k.frame).join(",")}
              data-pending={t._pending ? "true" : "false"}
              aria-selected={t.id === selectedId}
            />
          );
        })}
      </div>
    </div>
  );
}

function corners(b: BBox): [number, number][] {
  return [
    [b[0], b[1]],
    [b[0] + b[2], b[1]],
    [b[0], b[1] + b[3]],
    [b[0] + b[2], b[1] + b[3]],
  ];
}

function controllerTogglePlay(v: HTMLVideoElement | null) {
  if (!v) return;
  if (v.paused) void v.play().catch(() => undefined);
  else v.pause();
}
