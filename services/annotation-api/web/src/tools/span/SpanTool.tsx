import { useEffect, useMemo, useRef } from "react";
import { isSpan, newRegionId } from "../../editor/regions";
import { OffsetMap } from "../../lib/codepoints";
import { labelColor } from "../../lib/labels";
import type { ToolProps } from "../types";
import { selectedRange } from "./selection";
import { TextContent, type TextMark } from "./TextContent";

/** NER spans: select text, then press a label hotkey or click a label; click a span to delete it. */
export function SpanTool({ media, regions, labels, dispatch, registerLabelAction, invalidIds }: ToolProps) {
  const text = media.kind === "text" ? media.text : "";
  const map = useMemo(() => new OffsetMap(text), [text]);
  const rootRef = useRef<HTMLDivElement>(null);
  const regionsRef = useRef(regions);
  regionsRef.current = regions;

  useEffect(
    () =>
      registerLabelAction((label) => {
        const root = rootRef.current;
        const selection = window.getSelection();
        const range = root ? selectedRange(root, selection, map) : null;
        if (!range) return false;
        const duplicate = regionsRef.current.some((r) => isSpan(r) && r.label === label && r.start === range.start && r.end === range.end);
        if (!duplicate) dispatch({ type: "add", region: { type: "span", id: newRegionId(), label, start: range.start, end: range.end } });
        selection?.removeAllRanges();
        return true;
      }),
    [registerLabelAction, dispatch, map],
  );

  const marks: TextMark[] = regions.filter(isSpan).map((r) => ({
    id: r.id,
    start: map.toUtf16(r.start),
    end: map.toUtf16(r.end),
    label: r.label,
    color: labelColor(labels, r.label),
    invalid: invalidIds.has(r.id),
  }));

  return <TextContent ref={rootRef} text={text} marks={marks} onMarkClick={(id) => dispatch({ type: "remove", id })} />;
}
