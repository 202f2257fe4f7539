// Long texts are rendered a window of chunks at a time (TextStage). A chunk is a run of whole lines of about
// TARGET code units; a longer line is cut at whitespace (it then continues on a new line on screen).
// Offsets are UTF-16.

export interface Chunk {
  start: number;
  end: number;
}

export const TARGET = 1500;

function cutPoint(text: string, from: number, limit: number): number {
  const hard = Math.min(text.length, from + limit);
  if (hard >= text.length) return text.length;
  for (let i = hard; i > from + limit / 2; i--) if (/\s/.test(text[i - 1]!)) return i;
  // no whitespace: cut anyway, but never inside a surrogate pair
  const c = text.charCodeAt(hard);
  return c >= 0xdc00 && c <= 0xdfff ? hard + 1 : hard;
}

export function chunkText(text: string, target = TARGET): Chunk[] {
  const chunks: Chunk[] = [];
  let start = 0;
  while (start < text.length) {
    let end = start;
    // whole lines up to the target
    while (end < text.length && end - start < target) {
      const nl = text.indexOf("\n", end);
      const lineEnd = nl === -1 ? text.length : nl + 1;
      if (lineEnd - start > target * 1.5) {
        end = end > start ? end : cutPoint(text, start, target);
        break;
      }
      end = lineEnd;
    }
    chunks.push({ start, end });
    start = end;
  }
  if (chunks.length === 0) chunks.push({ start: 0, end: 0 });
  return chunks;
}

/** Index of the chunk holding UTF-16 offset `at` (the last chunk for the text's end). */
export function chunkIndexOf(chunks: readonly Chunk[], at: number): number {
  let lo = 0;
  let hi = chunks.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (chunks[mid]!.start <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export interface Mark {
  id: string;
  /** UTF-16 offsets in the whole text. */
  start: number;
  end: number;
  label: string;
  color: string;
  selected: boolean;
  pending: boolean;
  invalid: boolean;
  score?: number | undefined;
}

/** The marks of each chunk, cut to it (a mark's later pieces are not its first). */
export function marksByChunk(chunks: readonly Chunk[], marks: readonly Mark[]): Mark[][] {
  const out: Mark[][] = chunks.map(() => []);
  for (const m of marks) {
    if (m.end <= m.start) continue;
    const first = chunkIndexOf(chunks, m.start);
    const last = chunkIndexOf(chunks, m.end - 1);
    for (let i = first; i <= last; i++) out[i]!.push(m);
  }
  return out;
}
