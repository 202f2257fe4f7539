import { memo, type MouseEvent as ReactMouseEvent, type ReactNode } from "react";
import type { Chunk, Mark } from "./chunks";
import { buildSpanTree, type SpanPiece } from "./spanTree";

interface Props {
  text: string;
  chunk: Chunk;
  index: number;
  /** The chunk's marks (UTF-16 offsets in the whole text). */
  marks: readonly Mark[];
  onMarkClick?(id: string, e: ReactMouseEvent): void;
  /** An illustration (guideline examples): no test ids, nothing to click. */
  plain?: boolean;
}

/**
 * One chunk of the text with its marks as nested <mark>s. Every plain run is an element with data-start (its
 * UTF-16 offset in the whole text) holding one text node, which is what selection.ts maps back to offsets.
 */
function TextChunkView({ text, chunk, index, marks, onMarkClick, plain: illustration = false }: Props) {
  const byId = new Map(marks.map((m) => [m.id, m]));
  const pieces = buildSpanTree(marks.map((m) => ({ id: m.id, start: Math.max(m.start, chunk.start), end: Math.min(m.end, chunk.end) })));
  const render = (start: number, end: number, children: SpanPiece[]): ReactNode[] => {
    const out: ReactNode[] = [];
    let cursor = start;
    const plain = (to: number) => {
      if (to > cursor) out.push(<span key={`t${cursor}`} data-start={cursor}>{text.slice(cursor, to)}</span>);
    };
    for (const piece of children) {
      plain(piece.start);
      const mark = byId.get(piece.id)!;
      const first = piece.first && mark.start >= chunk.start;
      const classes = ["span-region", mark.selected && "selected", mark.pending && "pending", mark.invalid && "invalid"].filter(Boolean).join(" ");
      out.push(
        <mark
          key={`m${piece.id}:${piece.start}`}
          className={classes}
          data-testid={illustration ? undefined : first ? "region" : "region-part"}
          data-region-id={illustration ? undefined : piece.id}
          data-label={first ? mark.label : undefined}
          data-score={first && mark.pending && mark.score !== undefined ? `${Math.round(mark.score * 100)}%` : undefined}
          aria-selected={mark.selected}
          title={mark.pending ? `${mark.label}: pre-label${mark.score !== undefined ? ` (${Math.round(mark.score * 100)}%)` : ""}, A accepts, X rejects` : `${mark.label} (click to select)`}
          style={{ backgroundColor: `${mark.color}${mark.selected ? "66" : "33"}`, borderBottomColor: mark.color, ["--label-color" as string]: mark.color }}
          onClick={(e) => onMarkClick?.(piece.id, e)}
        >
          {render(piece.start, piece.end, piece.children)}
        </mark>,
      );
      cursor = piece.end;
    }
    plain(end);
    return out;
  };
  return (
    <div className="text-chunk" data-chunk={index}>
      {render(chunk.start, chunk.end, pieces)}
    </div>
  );
}

function sameMarks(a: readonly Mark[], b: readonly Mark[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.id !== y.id || x.start !== y.start || x.end !== y.end || x.label !== y.label || x.color !== y.color || x.selected !== y.selected || x.pending !== y.pending || x.invalid !== y.invalid || x.score !== y.score) return false;
  }
  return true;
}

/** Re-rendered only when its own marks change (scrolling and edits elsewhere leave it alone). */
export const TextChunk = memo(TextChunkView, (a, b) => a.text === b.text && a.chunk === b.chunk && a.index === b.index && a.onMarkClick === b.onMarkClick && a.plain === b.plain && sameMarks(a.marks, b.marks));
