import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type MouseEvent as ReactMouseEvent, type RefObject } from "react";
import type { TextOp } from "../../editor/keymap";
import type { EditorRegion } from "../../editor/regions";
import { offsetMapOf } from "../../lib/codepoints";
import { labelColor, type LabelDef } from "../../lib/labels";
import { nextToken, previousToken, tokenAt, type TokenRange } from "../../lib/tokens";
import type { EditorApi, ToolPlugin } from "../../tools/types";
import { chunkIndexOf, chunkText, marksByChunk, type Mark } from "./chunks";
import { pointToOffset, selectedRange } from "./selection";
import { TextChunk } from "./TextChunk";

export interface TextController {
  /** Make a region from the selected text with this label; false when nothing is selected (or no tool takes it). */
  applyLabel(label: string): boolean;
  token(op: TextOp): void;
  clearSelection(): void;
}

interface Props {
  text: string;
  /** The active text tools (marks, regions from selections, overlays). */
  plugins: readonly ToolPlugin[];
  current?: ToolPlugin | undefined;
  regions: readonly EditorRegion[];
  labels: readonly LabelDef[];
  selectedId: string | null;
  invalidIds: ReadonlySet<string>;
  editor: EditorApi | null;
  controller?: RefObject<TextController | null>;
  onReady?(): void;
}

const LINE_HEIGHT = 33.6; // 16px * 2.1, as in styles.css
const CHAR_WIDTH = 8.2;
const NO_REGIONS: readonly EditorRegion[] = [];
let lastWidth = 0;

/**
 * The item's text, rendered a window of chunks at a time (the rest is spacers of measured or estimated height),
 * so a 100k-character text with thousands of spans scrolls as fast as a short one.
 */
export function TextStage({ text, plugins, current, regions = NO_REGIONS, labels, selectedId, invalidIds, editor, controller, onReady }: Props) {
  const map = useMemo(() => offsetMapOf(text), [text]);
  const chunks = useMemo(() => chunkText(text), [text]);
  const scrollRef = useRef<HTMLDivElement>(null);
  const rootRef = useRef<HTMLDivElement | null>(null);
  const containerOf = useCallback(() => rootRef.current, []);
  const heights = useRef<number[]>([]);
  const overlays = useMemo(() => plugins.filter((p) => p.text?.Overlay), [plugins]);
  const [window_, setWindow] = useState<[number, number]>([0, Math.min(chunks.length - 1, 3)]);
  const [layoutVersion, setLayoutVersion] = useState(0);
  const anchor = useRef<TokenRange | null>(null);
  const pendingSelect = useRef<TokenRange | null>(null);
  const latest = useRef({ editor, current, regions });
  latest.current = { editor, current, regions };

  // -- heights: estimated from the width, then measured -------------------------------------------------
  useLayoutEffect(() => {
    // the width the last text had (reading this one's would force a layout before it is even measured)
    const width = lastWidth - 34;
    const perLine = width > 100 ? Math.max(10, Math.floor(width / CHAR_WIDTH)) : 80;
    heights.current = chunks.map((c) =>
      text
        .slice(c.start, c.end)
        .split("\n")
        .slice(0, text[c.end - 1] === "\n" ? -1 : undefined)
        .reduce((h, line) => h + Math.max(1, Math.ceil(line.length / perLine)) * LINE_HEIGHT, 0),
    );
  }, [chunks, text]);

  const computeWindow = useCallback(() => {
    const scroller = scrollRef.current;
    if (!scroller) return;
    const top = scroller.scrollTop;
    const view = scroller.clientHeight || 800;
    const from = top - view;
    const to = top + 2 * view;
    let y = 0;
    let first = -1;
    let last = chunks.length - 1;
    for (let i = 0; i < chunks.length; i++) {
      const h = heights.current[i] ?? LINE_HEIGHT;
      if (first < 0 && y + h >= from) first = i;
      if (y > to) {
        last = Math.max(first, i - 1);
        break;
      }
      y += h;
    }
    first = Math.max(0, first);
    // keep the chunks holding the selection rendered, so it survives scrolling
    const sel = window.getSelection();
    const root = rootRef.current;
    if (sel && sel.rangeCount > 0 && !sel.isCollapsed && root?.contains(sel.anchorNode)) {
      const at = pointToOffset(root, sel.anchorNode!, sel.anchorOffset, text.length);
      if (at !== null) {
        const i = chunkIndexOf(chunks, at);
        first = Math.min(first, i);
        last = Math.max(last, i);
      }
    }
    setWindow((old) => (old[0] === first && old[1] === last ? old : [first, last]));
  }, [chunks, text]);

  const frame = useRef(0);
  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      computeWindow();
    });
  };
  useEffect(() => () => cancelAnimationFrame(frame.current), []);
  useLayoutEffect(computeWindow, [computeWindow]);

  // measure what was rendered; correct the spacers when an estimate was off
  useLayoutEffect(() => {
    const root = rootRef.current;
    if (!root) return;
    let changed = false;
    lastWidth = scrollRef.current?.clientWidth || lastWidth;
    root.querySelectorAll<HTMLElement>(":scope > .text-chunk").forEach((el) => {
      const i = Number(el.dataset.chunk);
      const h = el.offsetHeight;
      if (h > 0 && Math.abs((heights.current[i] ?? 0) - h) > 0.5) {
        heights.current[i] = h;
        changed = true;
      }
    });
    // a text shown whole has no spacers to correct, and without overlays nothing follows the layout
    if (changed && (chunks.length > 1 || overlays.length > 0)) {
      setLayoutVersion((v) => v + 1);
      computeWindow();
    }
    if (pendingSelect.current) {
      const range = pendingSelect.current;
      pendingSelect.current = null;
      selectUtf16(range);
    }
  });

  useLayoutEffect(() => {
    const id = requestAnimationFrame(() => onReady?.());
    return () => cancelAnimationFrame(id);
  }, []); // once per item

  // -- marks -----------------------------------------------------------------------------------------
  const markers = useMemo(() => plugins.filter((p) => p.text?.mark), [plugins]);
  const perChunk = useMemo(() => {
    const marks: Mark[] = [];
    for (const r of regions) {
      for (const p of markers) {
        const m = p.text!.mark!(r);
        if (!m) continue;
        marks.push({
          id: r.id,
          start: map.toUtf16(m.start),
          end: map.toUtf16(m.end),
          label: r.label ?? r.type,
          color: labelColor(labels, r.label),
          selected: r.id === selectedId,
          pending: !!r._pending,
          invalid: invalidIds.has(r.id),
          score: typeof r.score === "number" ? r.score : undefined,
        });
        break;
      }
    }
    return marksByChunk(chunks, marks);
  }, [regions, markers, map, labels, selectedId, invalidIds, chunks]);

  // -- selections ------------------------------------------------------------------------------------
  /** Select UTF-16 [start, end) in the DOM, scrolling to it (rendering its chunk first when needed). */
  const selectUtf16 = useCallback(
    (range: TokenRange) => {
      const root = rootRef.current;
      const scroller = scrollRef.current;
      if (!root) return;
      const segments = Array.from(root.querySelectorAll<HTMLElement>("[data-start]"));
      const locate = (offset: number, isEnd: boolean): [Node, number] | null => {
        for (const seg of segments) {
          const start = Number(seg.dataset.start);
          const len = seg.textContent?.length ?? 0;
          if ((isEnd ? offset > start : offset >= start) && (isEnd ? offset <= start + len : offset < start + len)) {
            return [seg.firstChild ?? seg, offset - start];
          }
        }
        return null;
      };
      const a = locate(range.start, false);
      const b = locate(range.end, true);
      if (!a || !b) {
        // not rendered yet: scroll to its chunk and select after the next render
        const i = chunkIndexOf(chunks, range.start);
        if (scroller) scroller.scrollTop = heights.current.slice(0, i).reduce((s, h) => s + h, 0);
        pendingSelect.current = range;
        computeWindow();
        return;
      }
      const dom = document.createRange();
      dom.setStart(a[0], a[1]);
      dom.setEnd(b[0], b[1]);
      const sel = window.getSelection();
      sel?.removeAllRanges();
      sel?.addRange(dom);
      const el = a[0].parentElement;
      if (el && scroller && typeof el.getBoundingClientRect === "function") {
        const r = el.getBoundingClientRect();
        const s = scroller.getBoundingClientRect();
        if (r.top < s.top || r.bottom > s.bottom) scroller.scrollTop += r.top - s.top - s.height / 3;
      }
    },
    [chunks, computeWindow],
  );

  const currentRange = (): TokenRange | null => {
    const root = rootRef.current;
    const sel = window.getSelection();
    if (root && sel && sel.rangeCount > 0 && !sel.isCollapsed) {
      const r = sel.getRangeAt(0);
      const start = pointToOffset(root, r.startContainer, r.startOffset, text.length);
      const end = pointToOffset(root, r.endContainer, r.endOffset, text.length);
      if (start !== null && end !== null && end > start) return { start, end };
    }
    return anchor.current;
  };

  const onMouseUp = (e: ReactMouseEvent) => {
    const root = rootRef.current;
    if (e.button !== 0 || !root) return;
    if ((e.target as Element).closest?.("[data-region-id]") && !e.altKey) return;
    const sel = window.getSelection();
    if (!sel || !sel.focusNode) return;
    if (!sel.isCollapsed && !e.shiftKey) {
      anchor.current = null; // a drag selected the text itself
      return;
    }
    const at = pointToOffset(root, sel.focusNode, sel.focusOffset, text.length);
    if (at === null) return;
    const token = tokenAt(text, at);
    if (!token) return;
    const base = e.shiftKey && anchor.current ? anchor.current : null;
    const range = base ? { start: Math.min(base.start, token.start), end: Math.max(base.end, token.end) } : token;
    if (!base) anchor.current = token;
    selectUtf16(range);
  };

  const onMarkClick = useCallback((id: string, e: ReactMouseEvent) => {
    const sel = window.getSelection();
    if (e.altKey || (sel && !sel.isCollapsed)) return; // Alt+click selects a token; a drag ends with a click too
    e.stopPropagation();
    const { editor: ed, current: cur, regions: all } = latest.current;
    if (!ed) return;
    const region = all.find((r) => r.id === id);
    if (region && cur?.text?.onRegionClick?.(region, ed)) return;
    ed.select(id);
  }, []);

  useEffect(() => {
    if (!controller) return;
    controller.current = {
      applyLabel(label) {
        const root = rootRef.current;
        const ed = latest.current.editor;
        if (!root || !ed) return false;
        const sel = window.getSelection();
        const range = selectedRange(root, sel, map);
        if (!range) return false;
        for (const p of plugins) {
          const region = p.text?.fromSelection?.(range, label, ed);
          if (!region) continue;
          if (!ed.regions().some((r) => r.id === region.id)) ed.dispatch({ type: "add", region });
          ed.select(region.id);
          sel?.removeAllRanges();
          // the arrow keys go on from the labelled text
          anchor.current = { start: map.toUtf16(range.start), end: map.toUtf16(range.end) };
          return true;
        }
        return false;
      },
      token(op) {
        const cur = currentRange();
        let next: TokenRange | null = null;
        if (op === "nextToken") next = nextToken(text, cur ? cur.end : firstVisibleOffset());
        else if (op === "previousToken") next = cur ? previousToken(text, cur.start) : nextToken(text, firstVisibleOffset());
        else if (op === "extendRight") {
          const t = nextToken(text, cur ? cur.end : firstVisibleOffset());
          next = t && cur ? { start: cur.start, end: t.end } : t;
        } else if (cur) {
          const last = previousToken(text, cur.end);
          const before = last && last.start > cur.start ? previousToken(text, last.start) : null;
          next = before && before.end > cur.start ? { start: cur.start, end: before.end } : cur;
        }
        if (!next) return;
        anchor.current = next;
        selectUtf16(next);
      },
      clearSelection() {
        window.getSelection()?.removeAllRanges();
        anchor.current = null;
      },
    };
    return () => {
      controller.current = null;
    };
  });

  const firstVisibleOffset = () => chunks[window_[0]]?.start ?? 0;

  const markOf = useCallback((id: string) => rootRef.current?.querySelector<HTMLElement>(`mark[data-region-id="${cssEscape(id)}"]`) ?? null, []);
  const [first, last] = window_;
  const top = heights.current.slice(0, first).reduce((s, h) => s + h, 0);
  const bottom = heights.current.slice(last + 1).reduce((s, h) => s + h, 0);

  return (
    <div ref={scrollRef} className="text-scroll" onScroll={onScroll}>
      <div ref={rootRef} className="text-content" data-testid="text-content" onMouseUp={onMouseUp}>
        {first > 0 && <div className="text-spacer" style={{ height: top }} aria-hidden />}
        {chunks.slice(first, last + 1).map((c, k) => (
          <TextChunk key={c.start} text={text} chunk={c} index={first + k} marks={perChunk[first + k] ?? []} onMarkClick={onMarkClick} />
        ))}
        {last < chunks.length - 1 && <div className="text-spacer" style={{ height: bottom }} aria-hidden />}
        {editor &&
          overlays.map((p) => {
            const Overlay = p.text!.Overlay!;
            return (
              <Overlay
                key={p.name}
                regions={regions}
                labels={labels}
                selectedId={selectedId}
                editor={editor}
                markOf={markOf}
                container={containerOf}
                layoutVersion={layoutVersion * 100003 + first * 1009 + last}
              />
            );
          })}
      </div>
    </div>
  );
}

function cssEscape(id: string): string {
  return typeof CSS !== "undefined" && typeof CSS.escape === "function" ? CSS.escape(id) : id.replace(/["\\]/g, "\\$&");
}
