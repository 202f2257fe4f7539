// Offsets in the public formats count Unicode code points; JS strings index UTF-16 code units.
// An emoji such as "😀" is 1 code point but 2 code units, so every offset crossing the wire is converted here.

export type Rounding = "floor" | "ceil";

/** Maps between UTF-16 offsets and code point offsets of one text (O(n) to build, O(log n) per lookup). */
export class OffsetMap {
  /** utf16Starts[i] is the UTF-16 offset of code point i; the last entry is text.length. */
  private readonly utf16Starts: Uint32Array;

  constructor(readonly text: string) {
    const starts = new Uint32Array(text.length + 1);
    let n = 0;
    for (let i = 0; i < text.length; ) {
      starts[n++] = i;
      i += isHighSurrogateAt(text, i) ? 2 : 1;
    }
    starts[n++] = text.length;
    this.utf16Starts = n === starts.length ? starts : starts.slice(0, n);
  }

  /** Number of code points in the text. */
  get codePointLength(): number {
    return this.utf16Starts.length - 1;
  }

  /** UTF-16 offset of code point offset `cp` (clamped to the text). */
  toUtf16(cp: number): number {
    const i = Math.min(Math.max(0, Math.trunc(cp)), this.codePointLength);
    return this.utf16Starts[i] ?? this.text.length;
  }

  /**
   * Code point offset of UTF-16 offset `u16` (clamped). An offset inside a surrogate pair is rounded down
   * (start of the character) or up (after it).
   */
  toCodePoint(u16: number, rounding: Rounding = "floor"): number {
    const target = Math.min(Math.max(0, Math.trunc(u16)), this.text.length);
    let lo = 0;
    let hi = this.codePointLength;
    // largest i with utf16Starts[i] <= target
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.utf16Starts[mid] ?? Infinity) <= target) lo = mid;
      else hi = mid - 1;
    }
    const exact = this.utf16Starts[lo] === target;
    return exact || rounding === "floor" ? lo : lo + 1;
  }
}

function isHighSurrogateAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff) return false;
  const next = text.charCodeAt(i + 1);
  return next >= 0xdc00 && next <= 0xdfff;
}

let cached: OffsetMap | null = null;

/** The offset map of a text, kept for the last text asked for (the item's, in practice). */
export function offsetMapOf(text: string): OffsetMap {
  if (!cached || cached.text !== text) cached = new OffsetMap(text);
  return cached;
}

export function codePointLength(text: string): number {
  return offsetMapOf(text).codePointLength;
}

export function utf16ToCodePoint(text: string, u16: number, rounding: Rounding = "floor"): number {
  return offsetMapOf(text).toCodePoint(u16, rounding);
}

export function codePointToUtf16(text: string, cp: number): number {
  return offsetMapOf(text).toUtf16(cp);
}

/** The substring between two code point offsets (end exclusive). */
export function sliceCodePoints(text: string, start: number, end: number): string {
  const map = offsetMapOf(text);
  return text.slice(map.toUtf16(start), map.toUtf16(end));
}
