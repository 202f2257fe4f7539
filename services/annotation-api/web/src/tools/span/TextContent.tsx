import type { ReactNode, Ref } from "react";
import { buildSpanTree, type SpanInput, type SpanPiece } from "./spanTree";

export interface TextMark extends SpanInput {
  label: string;
  color: string;
  invalid?: boolean;
}

interface Props {
  text: string;
  /** UTF-16 offsets. */
  marks?: readonly TextMark[];
  onMarkClick?(id: string): void;
  ref?: Ref<HTMLDivElement>;
}

/** The item's text with marks for spans; each plain run carries data-start for selection mapping. */
export function TextContent({ text, marks = [], onMarkClick, ref }: Props) {
  const byId = new Map(marks.map((m) => [m.id, m]));
  const render = (start: number, end: number, pieces: SpanPiece[]): ReactNode[] => {
    const out: ReactNode[] = [];
    let cursor = start;
    const plain = (to: number) => {
      if (to > cursor) out.push(<span key={`t${cursor}`} data-start={cursor}>{text.slice(cursor, to)}</span>);
    };
    for (const piece of pieces) {
      plain(piece.start);
      const mark = byId.get(piece.id)!;
      out.push(
        <mark
          key={`m${piece.id}:${piece.start}`}
          className={`span-region${mark.invalid ? " invalid" : ""}`}
          data-testid={piece.first ? "region" : "region-part"}
          data-region-id={piece.id}
          data-label={piece.first ? mark.label : undefined}
          title={`${mark.label} (click to delete)`}
          style={{ backgroundColor: `${mark.color}40`, borderBottomColor: mark.color, ["--label-color" as string]: mark.color }}
          onClick={(e) => {
            // a drag that selected text ends with a click too: only a plain click deletes
            if (!window.getSelection()?.isCollapsed) return;
            e.stopPropagation();
            onMarkClick?.(piece.id);
          }}
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
    <div ref={ref} className="text-content" data-testid="text-content">
      {render(0, text.length, buildSpanTree(marks))}
    </div>
  );
}
