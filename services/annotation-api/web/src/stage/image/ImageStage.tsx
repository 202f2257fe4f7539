import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type MouseEvent as ReactMouseEvent, type RefObject } from "react";
import type { Task } from "../../api/types";
import type { ViewOp } from "../../editor/keymap";
import type { EditorRegion } from "../../editor/regions";
import { boxesIntersect, type Box, type Point, type Size } from "../../lib/geometry";
import { labelColor, type LabelDef } from "../../lib/labels";
import type { Draw, DrawSession, EditorApi, ImageToolSpec, LoadedMedia, PointerInfo, SessionContext, ToolPlugin } from "../../tools/types";
import { drawHandles, drawTag } from "./paint";
import { FIT, clampView, maxZoomFor, panBy, visibleBox, zoomAt, type View } from "./view";

export interface StageController {
  view(op: ViewOp): void;
  /** Offer a key to the drawing session first; true when it used it. */
  intercept(e: KeyboardEvent): boolean;
  /** Cancel a half-drawn shape; true when there was one. */
  cancel(): boolean;
}

type ImageMedia = Extract<LoadedMedia, { kind: "image" }>;

interface Props {
  task: Task;
  media: ImageMedia;
  /** The active image tools (each has `image`). */
  plugins: readonly ToolPlugin[];
  /** The current drawing tool. */
  current: ToolPlugin | undefined;
  regions: readonly EditorRegion[];
  selectedId: string | null;
  labels: readonly LabelDef[];
  invalidIds: ReadonlySet<string>;
  editor: EditorApi;
  controller: RefObject<StageController | null>;
  /** Called once, after the first frame of this item is drawn. */
  onReady(): void;
  onHint(hint: string | null): void;
}

/** Set by the UI benchmark: the stage pushes each frame's draw time (ms) here. */
declare global {
  interface Window {
    __annotaryFrames?: number[];
  }
}

const HANDLE_PX = 7;
const HIT_PX = 5;
const PAN_STEP = 0.1;

/** Drag state of the stage itself (the session has its own). */
type Drag =
  | { kind: "pan"; lastX: number; lastY: number }
  | { kind: "handle"; id: string; index: number; original: EditorRegion }
  | { kind: "move"; id: string; from: Point; original: EditorRegion }
  | { kind: "session" };

/**
 * The image with every region on one canvas: zoom at the cursor (wheel), pan (space or right/middle drag,
 * arrows), culling of regions outside the view, an image pyramid so zoomed-out frames never scale 4K pixels,
 * and redraws only on the next animation frame after something changed.
 */
export function ImageStage(props: Props) {
  const { task, media, regions, selectedId, plugins, current, controller } = props;
  const image: Size = useMemo(
    () => ({ width: task.item.width || media.width, height: task.item.height || media.height }),
    [task.item.width, task.item.height, media.width, media.height],
  );
  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  // the space the last item had: the next one is fitted on its first render, without waiting for layout
  const [cssSize, setCssSize] = useState<Size | null>(() => (lastSpace ? fitInto(image, lastSpace) : null));
  const view = useRef<View>(FIT);
  const drag = useRef<Drag | null>(null);
  const preview = useRef<{ id: string; region: EditorRegion } | null>(null);
  const space = useRef(false);
  const frame = useRef(0);
  const ready = useRef(false);
  const latest = useRef(props);
  latest.current = props;
  const session = useRef<DrawSession | null>(null);

  const byType = useMemo(() => {
    const map = new Map<string, ImageToolSpec>();
    for (const p of plugins) if (p.image) for (const t of p.regionTypes) map.set(t, p.image);
    return map;
  }, [plugins]);
  const boundsCache = useRef(new WeakMap<EditorRegion, Box | null>());
  const boundsOf = useCallback(
    (r: EditorRegion): Box | null => {
      const cache = boundsCache.current;
      if (cache.has(r)) return cache.get(r)!;
      const b = byType.get(r.type)?.bounds(r) ?? null;
      cache.set(r, b);
      return b;
    },
    [byType],
  );
  const shown = (r: EditorRegion) => (preview.current && preview.current.id === r.id ? preview.current.region : r);
  const ends = useCallback(
    (id: string): Box | null => {
      const r = latest.current.regions.find((x) => x.id === id);
      return r ? boundsOf(shown(r)) : null;
    },
    [boundsOf],
  );
  const maxZoom = () => maxZoomFor(image, cssSize?.width ?? image.width);

  // -- fitting the canvas to the space there is -----------------------------------------------------
  useLayoutEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    const fit = () => {
      const width = wrap.parentElement?.clientWidth || wrap.clientWidth;
      if (!width) {
        // hidden (rendered ahead) or no layout at all (tests): the last space, else the natural size
        setCssSize((old) => old ?? (lastSpace ? fitInto(image, lastSpace) : { width: image.width, height: image.height }));
        return;
      }
      const top = wrap.getBoundingClientRect().top;
      const height = Math.max(240, window.innerHeight - Math.max(0, top) - 72);
      lastSpace = { width, height };
      const next = fitInto(image, lastSpace);
      setCssSize((old) => (old && old.width === next.width && old.height === next.height ? old : next));
    };
    fit();
    const observer = typeof ResizeObserver === "function" ? new ResizeObserver(fit) : null;
    if (observer && wrap.parentElement) observer.observe(wrap.parentElement);
    window.addEventListener("resize", fit);
    return () => {
      observer?.disconnect();
      window.removeEventListener("resize", fit);
    };
  }, [image]);

  // -- drawing ---------------------------------------------------------------------------------------
  const paint = useCallback(() => {
    frame.current = 0;
    const canvas = canvasRef.current;
    const size = cssSize;
    const { regions: all, selectedId: sel, labels, invalidIds, editor } = latest.current;
    const ctx = canvas && size ? (canvas.getContext("2d") as CanvasRenderingContext2D | null) : null;
    if (ctx && canvas && size) {
      const started = performance.now();
      const dpr = window.devicePixelRatio || 1;
      const v = view.current;
      const vis = visibleBox(v, image);
      const scale = size.width / vis.w;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, size.width, size.height);
      // the smallest pyramid level that still has a pixel per device pixel
      const need = (scale * dpr) / 1.0;
      const levels = media.levels;
      let level = levels[0];
      for (const l of levels) if (l.width / image.width >= need && (!level || l.width < level.width)) level = l;
      if (!level || level.width / image.width < need) level = levels.reduce((a, b) => (b.width > a.width ? b : a), levels[0]!);
      if (level) {
        const k = level.width / image.width;
        ctx.imageSmoothingEnabled = scale * dpr < 4;
        ctx.drawImage(level.source, vis.x * k, vis.y * k, vis.w * k, vis.h * k, 0, 0, size.width, size.height);
      }
      const d: Draw = { ctx, scale, sx: (x) => (x - vis.x) * scale, sy: (y) => (y - vis.y) * scale, visible: vis };
      const pad = 12 / scale;
      const view2: Box = { x: vis.x - pad, y: vis.y - pad, w: vis.w + 2 * pad, h: vis.h + 2 * pad };
      let selected: EditorRegion | null = null;
      const tags: { r: EditorRegion; b: Box; color: string }[] = [];
      for (const raw of all) {
        if (raw.id === sel) {
          selected = shown(raw);
          continue;
        }
        const spec = byType.get(raw.type);
        const b = boundsOf(raw);
        if (!spec || (b && !boxesIntersect(b, view2))) continue; // culled
        const color = labelColor(labels, raw.label);
        spec.draw(d, raw, { color, def: labelDef(labels, raw.label), selected: false, pending: !!raw._pending, invalid: invalidIds.has(raw.id) }, ends);
        if (b && b.w * scale >= 28 && b.h * scale >= 10) tags.push({ r: raw, b, color });
      }
      if (selected) {
        const spec = byType.get(selected.type);
        const color = labelColor(labels, selected.label);
        spec?.draw(d, selected, { color, def: labelDef(labels, selected.label), selected: true, pending: !!selected._pending, invalid: invalidIds.has(selected.id) }, ends);
        const b = spec?.bounds(selected) ?? null;
        if (b) tags.push({ r: selected, b, color });
        if (spec?.handles) drawHandles(d, spec.handles(selected), HANDLE_PX);
      }
      for (const t of tags) drawTag(d, t.b, tagText(t.r), t.color);
      for (const p of latest.current.plugins) p.image?.drawOverlay?.(d, editor, ends);
      session.current?.drawPreview?.(d);
      const frames = window.__annotaryFrames;
      if (frames) frames.push(performance.now() - started);
    }
    if (!ready.current && size) {
      ready.current = true;
      latest.current.onReady();
    }
  }, [cssSize, image, media.levels, byType, boundsOf, ends]);

  // the frame always runs the latest paint (a frame asked for before the canvas had its size still draws)
  const paintRef = useRef(paint);
  paintRef.current = paint;
  const redraw = useCallback(() => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => paintRef.current());
  }, []);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  // -- the current tool's session -----------------------------------------------------------------------
  const hitTest = useCallback(
    (p: Point): EditorRegion | null => {
      const { regions: all, selectedId: sel } = latest.current;
      const tol = tolerance(HIT_PX);
      const hits = (r: EditorRegion) => {
        const spec = byType.get(r.type);
        const b = boundsOf(r);
        if (!spec || (b && !boxesIntersect(b, { x: p.x - tol, y: p.y - tol, w: 2 * tol, h: 2 * tol }))) return false;
        return spec.hit(r, p, tol, ends);
      };
      const selected = sel ? all.find((r) => r.id === sel) : undefined;
      if (selected && hits(selected)) return selected;
      for (let i = all.length - 1; i >= 0; i--) if (hits(all[i]!)) return all[i]!;
      return null;
    },
    [byType, boundsOf, ends, cssSize],
  );
  function tolerance(px: number): number {
    const width = cssSize?.width || image.width;
    return (px * image.width) / view.current.zoom / width;
  }
  const fns = useRef({ tolerance, hitTest, redraw: () => {} });
  fns.current = { tolerance, hitTest, redraw: () => redraw() };
  useEffect(() => {
    const ctx: SessionContext = {
      image,
      editor: latest.current.editor,
      tolerance: (px) => fns.current.tolerance(px),
      hitTest: (p) => fns.current.hitTest(p),
      selectAt: (p) => latest.current.editor.select(fns.current.hitTest(p)?.id ?? null),
      redraw: () => fns.current.redraw(),
    };
    session.current = current?.image?.session?.(ctx) ?? null;
    latest.current.onHint(session.current?.hint?.() ?? null);
    return () => {
      session.current?.cancel();
      session.current = null;
    };
  }, [current, image]);

  // every change of the regions, selection or size is a frame
  useLayoutEffect(redraw, [redraw, regions, selectedId, props.invalidIds, props.labels]);

  // -- controller: view keys, key interception --------------------------------------------------------
  const setView = useCallback(
    (next: View) => {
      view.current = next;
      redraw();
    },
    [redraw],
  );
  useEffect(() => {
    controller.current = {
      view(op) {
        const z = maxZoom();
        const v = view.current;
        if (op === "zoomIn") setView(zoomAt(v, image, 0.5, 0.5, 1.25, z));
        else if (op === "zoomOut") setView(zoomAt(v, image, 0.5, 0.5, 0.8, z));
        else if (op === "fit") setView(FIT);
        else {
          const dx = op === "panLeft" ? PAN_STEP : op === "panRight" ? -PAN_STEP : 0;
          const dy = op === "panUp" ? PAN_STEP : op === "panDown" ? -PAN_STEP : 0;
          setView(panBy(v, image, dx, dy, z));
        }
      },
      intercept(e) {
        const s = session.current;
        if (!s?.busy() || !s.key) return false;
        const used = s.key(e);
        if (used) {
          latest.current.onHint(s.hint?.() ?? null);
          redraw();
        }
        return used;
      },
      cancel() {
        const s = session.current;
        if (!s?.busy()) return false;
        s.cancel();
        latest.current.onHint(s.hint?.() ?? null);
        redraw();
        return true;
      },
    };
    return () => {
      controller.current = null;
    };
  }, [controller, image, setView, redraw, cssSize]);

  // -- pointer input -------------------------------------------------------------------------------------
  const toImage = (e: { clientX: number; clientY: number }): Point => {
    const rect = canvasRef.current!.getBoundingClientRect();
    const fx = rect.width > 0 ? (e.clientX - rect.left) / rect.width : 0;
    const fy = rect.height > 0 ? (e.clientY - rect.top) / rect.height : 0;
    const v = view.current;
    return {
      x: Math.min(Math.max(v.ox + (fx * image.width) / v.zoom, 0), image.width),
      y: Math.min(Math.max(v.oy + (fy * image.height) / v.zoom, 0), image.height),
    };
  };
  const info = (e: { shiftKey: boolean; altKey: boolean; detail?: number }): PointerInfo => ({ shift: e.shiftKey, alt: e.altKey, clicks: e.detail ?? 1 });

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.code !== "Space" || (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)))) return;
      space.current = e.type === "keydown";
      if (e.type === "keydown") e.preventDefault(); // no page scroll
      if (canvasRef.current) canvasRef.current.style.cursor = space.current ? "grab" : (session.current?.cursor ?? "crosshair");
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("keyup", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("keyup", onKey);
    };
  }, []);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const rect = canvas.getBoundingClientRect();
      const fx = rect.width > 0 ? (e.clientX - rect.left) / rect.width : 0.5;
      const fy = rect.height > 0 ? (e.clientY - rect.top) / rect.height : 0.5;
      const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
      setView(zoomAt(view.current, image, fx, fy, Math.exp(-delta * 0.0015), maxZoom()));
    };
    canvas.addEventListener("wheel", onWheel, { passive: false });
    return () => canvas.removeEventListener("wheel", onWheel);
  }, [image, setView, cssSize]);

  const follow = () => {
    const move = (e: MouseEvent) => {
      const g = drag.current;
      if (!g) return;
      e.preventDefault();
      if (g.kind === "pan") {
        const rect = canvasRef.current!.getBoundingClientRect();
        const dfx = rect.width > 0 ? (e.clientX - g.lastX) / rect.width : 0;
        const dfy = rect.height > 0 ? (e.clientY - g.lastY) / rect.height : 0;
        g.lastX = e.clientX;
        g.lastY = e.clientY;
        setView(panBy(view.current, image, dfx, dfy, maxZoom()));
        return;
      }
      const p = toImage(e);
      if (g.kind === "session") {
        session.current?.move(p, info(e));
        latest.current.onHint(session.current?.hint?.() ?? null);
      } else {
        const spec = byType.get(g.original.type);
        const patch =
          g.kind === "handle"
            ? spec?.moveHandle?.(g.original, g.index, p, image)
            : spec?.translate?.(g.original, p.x - g.from.x, p.y - g.from.y, image);
        if (patch) preview.current = { id: g.id, region: { ...g.original, ...patch } as EditorRegion };
      }
      redraw();
    };
    const up = (e: MouseEvent) => {
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
      const g = drag.current;
      drag.current = null;
      if (!g) return;
      if (g.kind === "session") {
        session.current?.up(toImage(e), info(e));
        latest.current.onHint(session.current?.hint?.() ?? null);
      } else if (g.kind !== "pan") {
        const moved = preview.current;
        preview.current = null;
        if (moved) {
          const spec = byType.get(g.original.type);
          const p = toImage(e);
          const patch =
            g.kind === "handle"
              ? spec?.moveHandle?.(g.original, g.index, p, image)
              : spec?.translate?.(g.original, p.x - g.from.x, p.y - g.from.y, image);
          if (patch) latest.current.editor.dispatch({ type: "update", id: g.id, patch });
        }
      } else if (canvasRef.current) canvasRef.current.style.cursor = space.current ? "grab" : (session.current?.cursor ?? "crosshair");
      redraw();
    };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  };

  const onMouseDown = (e: ReactMouseEvent) => {
    if (drag.current) return;
    if (e.button === 1 || e.button === 2 || (e.button === 0 && space.current)) {
      e.preventDefault();
      drag.current = { kind: "pan", lastX: e.clientX, lastY: e.clientY };
      if (canvasRef.current) canvasRef.current.style.cursor = "grabbing";
      follow();
      return;
    }
    if (e.button !== 0) return;
    e.preventDefault();
    const p = toImage(e);
    const s = session.current;
    const { regions: all, selectedId: sel, editor } = latest.current;
    if (!s?.busy()) {
      const selected = sel ? all.find((r) => r.id === sel) : undefined;
      const spec = selected ? byType.get(selected.type) : undefined;
      if (selected && spec) {
        const tol = tolerance(HANDLE_PX);
        const index = spec.handles?.(selected).findIndex((h) => Math.abs(h.x - p.x) <= tol && Math.abs(h.y - p.y) <= tol) ?? -1;
        if (index >= 0 && spec.moveHandle) {
          drag.current = { kind: "handle", id: selected.id, index, original: selected };
          follow();
          return;
        }
        if (spec.translate && !e.altKey && spec.hit(selected, p, tolerance(HIT_PX), ends)) {
          drag.current = { kind: "move", id: selected.id, from: p, original: selected };
          follow();
          return;
        }
      }
    }
    const hit = s?.busy() ? null : hitTest(p);
    const answer = s ? s.down(p, info(e), hit) : "select";
    if (answer === "select") {
      editor.select(hit?.id ?? null);
      return;
    }
    drag.current = { kind: "session" };
    latest.current.onHint(s?.hint?.() ?? null);
    follow();
    redraw();
  };

  const onHover = (e: ReactMouseEvent) => {
    if (drag.current || !session.current) return;
    session.current.move(toImage(e), info(e));
    if (session.current.drawPreview) redraw();
  };

  useLayoutEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !cssSize) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(cssSize.width * dpr);
    canvas.height = Math.round(cssSize.height * dpr);
    canvas.style.width = `${cssSize.width}px`;
    canvas.style.height = `${cssSize.height}px`;
    view.current = clampView(view.current, image, maxZoom());
    redraw();
  }, [cssSize, image, redraw]);

  const markers = useMemo(
    () =>
      regions.map((r) => (
        <span key={r.id} data-testid="region" data-region-id={r.id} data-type={r.type} data-label={r.label} aria-selected={r.id === selectedId} data-pending={r._pending ? "true" : undefined} />
      )),
    [regions, selectedId],
  );

  return (
    <div ref={wrapRef} className="image-stage" data-task-id={task.id}>
      <canvas
        ref={canvasRef}
        className="canvas"
        data-testid="canvas"
        style={{ cursor: current?.image?.session ? "crosshair" : "default" }}
        onMouseDown={onMouseDown}
        onMouseMove={onHover}
        onContextMenu={(e) => e.preventDefault()}
      />
      <div className="region-markers" hidden>
        {markers}
      </div>
    </div>
  );
}

let lastSpace: Size | null = null;

function fitInto(image: Size, space: Size): Size {
  const scale = Math.min(space.width / image.width, space.height / image.height);
  return { width: Math.max(1, Math.floor(image.width * scale)), height: Math.max(1, Math.floor(image.height * scale)) };
}

function labelDef(labels: readonly LabelDef[], name: string | undefined): LabelDef | undefined {
  return name === undefined ? undefined : labels.find((l) => l.name === name);
}

function tagText(r: EditorRegion): string {
  const name = r.label ?? r.type;
  return r._pending && typeof r.score === "number" ? `${name} ${Math.round(r.score * 100)}%` : name;
}
