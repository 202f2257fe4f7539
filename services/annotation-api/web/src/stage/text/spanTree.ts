// Lays out possibly overlapping spans as properly nested pieces, so the text renders as nested <mark>s.
// A span that crosses another (starts inside it, ends after it) is cut at the other's end; its later pieces
// have first = false.

export interface SpanInput {
  id: string;
  /** UTF-16 offsets, end exclusive. */
  start: number;
  end: number;
}

export interface SpanPiece extends SpanInput {
  first: boolean;
  children: SpanPiece[];
}

function byPosition(a: SpanPiece, b: SpanPiece): number {
  return a.start - b.start || b.end - a.end;
}

export function buildSpanTree(spans: readonly SpanInput[]): SpanPiece[] {
  const queue: SpanPiece[] = spans
    .filter((s) => s.end > s.start)
    .map((s) => ({ id: s.id, start: s.start, end: s.end, first: true, children: [] }));
  queue.sort(byPosition);
  const roots: SpanPiece[] = [];
  const stack: SpanPiece[] = [];
  while (queue.length > 0) {
    const piece = queue.shift()!;
    while (stack.length > 0 && stack[stack.length - 1]!.end <= piece.start) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent && piece.end > parent.end) {
      const rest: SpanPiece = { id: piece.id, start: parent.end, end: piece.end, first: false, children: [] };
      piece.end = parent.end;
      const at = queue.findIndex((q) => byPosition(rest, q) < 0);
      queue.splice(at === -1 ? queue.length : at, 0, rest);
    }
    (parent ? parent.children : roots).push(piece);
    stack.push(piece);
  }
  return roots;
}
