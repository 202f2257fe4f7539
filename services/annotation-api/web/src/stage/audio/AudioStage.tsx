// The audio stage: a zoomable waveform (peaks from a worker), labeled segments drawn on it (drag on empty
// waveform to create, drag an edge to resize, click to select and seek), a transcript field for the selected
// segment, and playback synchronized with the segments (the cursor follows playback, the segment under it is
// highlighted, a segment can be played on its own).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { newRegionId } from "../../editor/regions";
import { formatTime, hitSegment, isSegment, resizeSegment, segmentAt, segmentFromDrag, type SegmentRegion } from "../../tools/audio/segments";
import { newLabel } from "../../tools/shared/session";
import type { ToolProps } from "../../tools/types";
import { registerController } from "./controller";
import { decodeAudio, type DecodedAudio } from "./decode";
import { PEAKS_PER_SECOND, reducePeaks } from "./peaks";

const HEIGHT = 160;
const EDGE_PX = 5;
const MIN_PX_PER_S = 2;
const MAX_PX_PER_S = 20 * PEAKS_PER_SECOND;

type Drag = { kind: "create"; from: number; to: number } | { kind: "resize"; id: string; edge: "start" | "end"; start: number; end: number } | { kind: "click"; at: number; id: string | null };

export function AudioStage(props: ToolProps & { onReady?(): void }) {
  const { media, regions, labels, selectedId, select, dispatch, editor, invalidIds, onReady } = props;
  const url = media.kind === "audio" ? media.url : null;
  const blob = media.kind === "audio" ? media.blob : null;
  const preDecoded = media.kind === "audio" ? media.decoded : undefined;
  const [decoded, setDecoded] = useState<DecodedAudio | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [pxPerS, setPxPerS] = useState<number | null>(null);
  const [time, setTime] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [scrollLeft, setScrollLeft] = useState(0);
  const [width, setWidth] = useState(800);
  const [drag, setDrag] = useState<Drag | null>(null);
  const audio = useRef<HTMLAudioElement | null>(null);
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const scroller = useRef<HTMLDivElement | null>(null);
  const playUntil = useRef<number | null>(null);
  const readyFired = useRef(false);

  const segments = useMemo(() => regions.filter(isSegment), [regions]);
  const selected = segments.find((s) => s.id === selectedId) ?? null;
  const duration = decoded?.duration ?? 0;
  const scale = pxPerS ?? 50;
  const active = segmentAt(segments, time);

  useEffect(() => {
    if (!blob) return;
    let live = true;
    (preDecoded ?? decodeAudio(blob)).then(
      (d) => live && setDecoded(d),
      (e: unknown) => live && setFailed(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [blob, preDecoded]);

  // fit the whole recording on first show
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(200, el.clientWidth));
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    if (decoded && pxPerS === null) setPxPerS(Math.min(MAX_PX_PER_S, Math.max(MIN_PX_PER_S, width / Math.max(decoded.duration, 0.001))));
  }, [decoded, pxPerS, width]);

  const view = useMemo(() => {
    if (!decoded) return null;
    const factor = Math.max(1, Math.floor(PEAKS_PER_SECOND / scale));
    return { peaks: reducePeaks(decoded.peaks, factor), perSecond: PEAKS_PER_SECOND / factor };
  }, [decoded, scale]);

  // draw
  useEffect(() => {
    const c = canvas.current;
    if (!c || !view) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(width * dpr);
    c.height = Math.round(HEIGHT * dpr);
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT);
    const x = (t: number) => t * scale - scrollLeft;
    // segments behind the wave
    const shown = drag?.kind === "resize" ? segments.map((s) => (s.id === drag.id ? { ...s, start: drag.start, end: drag.end } : s)) : segments;
    for (const s of shown) {
      const x0 = x(s.start);
      const x1 = x(s.end);
      if (x1 < 0 || x0 > width) continue;
      const color = labels.find((l) => l.name === s.label)?.color ?? "#888";
      const isActive = active?.id === s.id;
      ctx.globalAlpha = isActive ? 0.45 : s.id === selectedId ? 0.32 : 0.18;
      ctx.fillStyle = color;
      ctx.fillRect(x0, 0, x1 - x0, HEIGHT);
      ctx.globalAlpha = 1;
      ctx.strokeStyle = invalidIds.has(s.id) ? "#d00" : color;
      ctx.lineWidth = s.id === selectedId ? 3 : 1;
      ctx.setLineDash(s._pending ? [4, 3] : []);
      ctx.strokeRect(x0, 1, x1 - x0, HEIGHT - 2);
      ctx.setLineDash([]);
      ctx.fillStyle = "#222";
      ctx.font = "12px sans-serif";
      if (x1 - x0 > 30) ctx.fillText(s.label, Math.max(x0, 0) + 4, 14);
    }
    if (drag?.kind === "create") {
      ctx.fillStyle = "rgba(60,120,220,0.25)";
      ctx.fillRect(x(Math.min(drag.from, drag.to)), 0, Math.abs(drag.to - drag.from) * scale, HEIGHT);
    }
    // the wave: one vertical line per peak pair in view
    ctx.fillStyle = "#3a5f8f";
    const mid = HEIGHT / 2;
    const first = Math.max(0, Math.floor((scrollLeft / scale) * view.perSecond));
    const last = Math.min(view.peaks.length / 2, Math.ceil(((scrollLeft + width) / scale) * view.perSecond) + 1);
    const barW = Math.max(1, scale / view.perSecond);
    for (let i = first; i < last; i++) {
      const min = view.peaks[2 * i]!;
      const max = view.peaks[2 * i + 1]!;
      const px = x(i / view.perSecond);
      ctx.fillRect(px, mid - max * mid * 0.95, barW, Math.max(1, (max - min) * mid * 0.95));
    }
    // the playback cursor
    ctx.fillStyle = "#d02020";
    ctx.fillRect(x(time) - 1, 0, 2, HEIGHT);
    if (!readyFired.current) {
      readyFired.current = true;
      onReady?.();
    }
  }, [view, width, scale, scrollLeft, segments, selectedId, labels, time, drag, active, invalidIds, onReady]);

  // playback: the cursor follows the audio every frame while it plays
  useEffect(() => {
    if (!playing) return;
    let raf = 0;
    const tick = () => {
      const a = audio.current;
      if (!a) return;
      if (playUntil.current !== null && a.currentTime >= playUntil.current) {
        a.pause();
        a.currentTime = playUntil.current;
        playUntil.current = null;
      }
      setTime(a.currentTime);
      const el = scroller.current;
      if (el && (a.currentTime * scale < el.scrollLeft || a.currentTime * scale > el.scrollLeft + el.clientWidth - 20)) el.scrollLeft = a.currentTime * scale - 20;
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [playing, scale]);

  const seek = useCallback((t: number) => {
    const a = audio.current;
    const clamped = Math.max(0, Math.min(t, a && Number.isFinite(a.duration) ? a.duration : t));
    if (a) a.currentTime = clamped;
    setTime(clamped);
  }, []);
  const togglePlay = useCallback(() => {
    const a = audio.current;
    if (!a) return;
    if (a.paused) {
      playUntil.current = null;
      void a.play().catch((e: unknown) => editor.notify(`Cannot play: ${e instanceof Error ? e.message : String(e)}`));
    } else a.pause();
  }, [editor]);
  const playSegment = useCallback(
    (s: SegmentRegion | null) => {
      const a = audio.current;
      if (!a) return;
      if (!s) return editor.notify("Select a segment to play it.");
      a.currentTime = s.start;
      setTime(s.start);
      playUntil.current = s.end;
      void a.play().catch(() => undefined);
    },
    [editor],
  );
  const zoom = useCallback(
    (factor: number) => {
      const el = scroller.current;
      const next = Math.min(MAX_PX_PER_S, Math.max(MIN_PX_PER_S, scale * factor));
      setPxPerS(next);
      // keep the cursor where it is on screen
      if (el) requestAnimationFrame(() => (el.scrollLeft = Math.max(0, time * next - (time * scale - el.scrollLeft))));
    },
    [scale, time],
  );
  const latest = useRef({ togglePlay, playSegment, zoom, seek, selected, time });
  latest.current = { togglePlay, playSegment, zoom, seek, selected, time };
  useEffect(() => {
    registerController(editor, {
      togglePlay: () => latest.current.togglePlay(),
      playSelected: () => latest.current.playSegment(latest.current.selected),
      zoom: (f) => latest.current.zoom(f),
      step: (s) => latest.current.seek(latest.current.time + s),
    });
    return () => registerController(editor, null);
  }, [editor]);

  const timeAt = (clientX: number) => {
    const rect = canvas.current!.getBoundingClientRect();
    return Math.max(0, Math.min(duration, (clientX - rect.left + scrollLeft) / scale));
  };
  const onPointerDown = (e: React.PointerEvent) => {
    if (e.button !== 0 || !decoded) return;
    (e.target as Element).setPointerCapture?.(e.pointerId);
    const t = timeAt(e.clientX);
    const hit = hitSegment(segments, t, EDGE_PX / scale, selectedId);
    if (hit && hit.part !== "body") {
      const s = segments.find((r) => r.id === hit.id)!;
      select(s.id);
      setDrag({ kind: "resize", id: s.id, edge: hit.part, start: s.start, end: s.end });
    } else setDrag(hit ? { kind: "click", at: t, id: hit.id } : { kind: "create", from: t, to: t });
  };
  const onPointerMove = (e: React.PointerEvent) => {
    const c = canvas.current;
    if (!drag) {
      if (c && decoded) {
        const hit = hitSegment(segments, timeAt(e.clientX), EDGE_PX / scale, selectedId);
        c.style.cursor = hit && hit.part !== "body" ? "ew-resize" : "crosshair";
      }
      return;
    }
    const t = timeAt(e.clientX);
    if (drag.kind === "create") setDrag({ ...drag, to: t });
    else if (drag.kind === "resize") setDrag({ ...drag, ...resizeSegment(drag, drag.edge, t, duration) });
    else if (Math.abs(t - drag.at) * scale > 4) setDrag({ kind: "create", from: drag.at, to: t });
  };
  const onPointerUp = (e: React.PointerEvent) => {
    if (!drag) return;
    const t = timeAt(e.clientX);
    setDrag(null);
    if (drag.kind === "resize") {
      dispatch({ type: "update", id: drag.id, patch: { start: drag.start, end: drag.end } });
      return;
    }
    if (drag.kind === "click") {
      select(drag.id);
      seek(t);
      return;
    }
    const range = segmentFromDrag(drag.from, t, duration);
    if (!range) {
      select(null);
      seek(t);
      return;
    }
    const label = newLabel(editor, "segment");
    if (!label) return;
    const id = newRegionId();
    dispatch({ type: "add", region: { type: "segment", id, label, start: range.start, end: range.end, text: "" } });
    select(id);
    seek(range.start);
  };

  if (failed) return <p className="notice error">The audio could not be decoded: {failed}</p>;
  return (
    <div className="av-stage audio-stage" data-testid="audio-stage">
      <div className="av-controls">
        <button type="button" data-testid="play" onMouseDown={(e) => e.preventDefault()} onClick={togglePlay} title="Play or pause (Space)">
          {playing ? "Pause" : "Play"}
        </button>
        <button type="button" onMouseDown={(e) => e.preventDefault()} onClick={() => playSegment(selected)} disabled={!selected} title="Play the selected segment (P)">
          Play segment
        </button>
        <span className="av-time" data-testid="audio-time">
          {formatTime(time)} / {formatTime(duration)}
        </span>
        <button type="button" onMouseDown={(e) => e.preventDefault()} onClick={() => zoom(1 / 1.5)} title="Zoom out (-)">
          −
        </button>
        <button type="button" onMouseDown={(e) => e.preventDefault()} onClick={() => zoom(1.5)} title="Zoom in (=)">
          +
        </button>
        <span className="muted" data-testid="audio-zoom">
          {Math.round(scale)} px/s
        </span>
        {active && <span className="badge" data-testid="active-segment">{`playing: ${active.label}`}</span>}
      </div>
      <div className="wave-scroll" ref={scroller} onScroll={(e) => setScrollLeft((e.target as HTMLDivElement).scrollLeft)}>
        <div className="wave-inner" style={{ width: Math.max(width, duration * scale), height: HEIGHT }}>
          <canvas
            ref={canvas}
            data-testid="waveform"
            className="waveform"
            style={{ width, height: HEIGHT, left: scrollLeft }}
            onPointerDown={onPointerDown}
            onPointerMove={onPointerMove}
            onPointerUp={onPointerUp}
          />
        </div>
      </div>
      {!decoded && <p className="muted">Decoding the audio…</p>}
      <audio ref={audio} src={url ?? undefined} preload="auto" onPlay={() => setPlaying(true)} onPause={() => setPlaying(false)} onEnded={() => setPlaying(false)} />
      {selected && (
        <label className="transcript">
          <span>
            Transcript of {selected.label} {formatTime(selected.start)}–{formatTime(selected.end)}
          </span>
          <textarea
            data-testid="transcript"
            rows={3}
            value={typeof selected.text === "string" ? selected.text : ""}
            onChange={(e) => dispatch({ type: "update", id: selected.id, patch: { text: e.target.value } })}
            placeholder="Type what is said (Ctrl+Enter submits, Escape leaves the field)"
          />
        </label>
      )}
      <div className="region-markers" hidden>
        {segments.map((s) => (
          <span key={s.id} data-testid="region" data-region-id={s.id} data-type="segment" data-label={s.label} data-start={s.start} data-end={s.end} data-pending={s._pending ? "true" : "false"} aria-selected={s.id === selectedId} data-active={active?.id === s.id ? "true" : "false"} />
        ))}
      </div>
    </div>
  );
}
