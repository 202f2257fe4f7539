// DOM selection -> UTF-16 offsets in the original text. Every run of text inside the text container is an element
// with data-start (its UTF-16 offset) holding exactly one text node; label names are CSS ::after content, so they
// are neither in the DOM text nor in the selection.
import { OffsetMap } from "../../lib/codepoints";

const SEGMENT = "[data-start]";

function segmentStart(el: Element): number {
  return Number((el as HTMLElement).dataset.start ?? 0);
}

function firstOffsetIn(node: Node): number | null {
  if (node.nodeType === Node.TEXT_NODE) {
    const seg = node.parentElement?.closest(SEGMENT);
    return seg ? segmentStart(seg) : null;
  }
  if (!(node instanceof Element)) return null;
  if (node.matches(SEGMENT)) return segmentStart(node);
  const seg = node.querySelector(SEGMENT);
  return seg ? segmentStart(seg) : null;
}

function endOffsetIn(node: Node): number | null {
  if (node.nodeType === Node.TEXT_NODE) {
    const seg = node.parentElement?.closest(SEGMENT);
    return seg ? segmentStart(seg) + (seg.textContent ?? "").length : null;
  }
  if (!(node instanceof Element)) return null;
  const segs = node.matches(SEGMENT) ? [node] : Array.from(node.querySelectorAll(SEGMENT));
  const last = segs[segs.length - 1];
  return last ? segmentStart(last) + (last.textContent ?? "").length : null;
}

/** UTF-16 offset in the original text of a DOM boundary point inside root. */
export function pointToOffset(root: Element, node: Node, offset: number, textLength: number): number | null {
  if (!root.contains(node)) return null;
  if (node.nodeType === Node.TEXT_NODE) {
    const seg = node.parentElement?.closest(SEGMENT);
    return seg && root.contains(seg) ? segmentStart(seg) + offset : null;
  }
  const children = node.childNodes;
  for (let i = offset; i < children.length; i++) {
    const at = firstOffsetIn(children[i]!);
    if (at !== null) return at;
  }
  for (let i = Math.min(offset, children.length) - 1; i >= 0; i--) {
    const at = endOffsetIn(children[i]!);
    if (at !== null) return at;
  }
  return node === root ? textLength : endOffsetIn(node);
}

export interface CodePointRange {
  start: number;
  end: number;
}

/**
 * The selected part of the text inside root, in CODE POINTS, trimmed of surrounding whitespace; null when nothing
 * (or only whitespace) of it is selected. A selection reaching outside root is cut to root.
 */
export function selectedRange(root: Element, selection: Selection | null, map: OffsetMap): CodePointRange | null {
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  const doc = root.ownerDocument;
  const whole = doc.createRange();
  whole.selectNodeContents(root);
  if (range.compareBoundaryPoints(Range.END_TO_START, whole) >= 0 || range.compareBoundaryPoints(Range.START_TO_END, whole) <= 0) {
    return null; // entirely before or after the text
  }
  const len = map.text.length;
  const startsBefore = range.compareBoundaryPoints(Range.START_TO_START, whole) < 0;
  const endsAfter = range.compareBoundaryPoints(Range.END_TO_END, whole) > 0;
  let start = startsBefore ? 0 : pointToOffset(root, range.startContainer, range.startOffset, len);
  let end = endsAfter ? len : pointToOffset(root, range.endContainer, range.endOffset, len);
  if (start === null || end === null) return null;
  if (start > end) [start, end] = [end, start];
  const text = map.text;
  while (start < end && /\s/.test(text[start]!)) start++;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  if (start >= end) return null;
  return { start: map.toCodePoint(start, "floor"), end: map.toCodePoint(end, "ceil") };
}
