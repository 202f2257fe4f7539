// Offsets in the public formats count Unicode code points; JS strings index UTF-16 code units.
// An emoji such as "😀" is 1 code point but 2 code units, so every offset crossing the wire is converted here.

export type Rounding = "floor" | "ceil";

/** Maps between UTF-16 offsets and code point offsets of one text (O(n) to build, O(log n) per lookup). */
export class OffsetMap {
  /** utf16Starts[i] is the UTF-16 offset of code point i; the last entry is text.length. */
  private readonly utf16Starts: Uint32Array;

  constructor(readonly text: string) {
    const starts: number[] = [];
    for (let i = 0; i < text.length; ) {
      starts.push(i);
      i += isHighSurrogateAt(text, i) ? 2 : 1;
    }
    starts.push(text.length);
    this.utf16Starts = Uint32Array.from(starts);
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

export function codePointLength(text: string): number {
  return new OffsetMap(text).codePointLength;
}

export function utf16ToCodePoint(text: string, u16: number, rounding: Rounding = "floor"): number {
  return new OffsetMap(text).toCodePoint(u16, rounding);
}

export function codePointToUtf16(text: string, cp: number): number {
  return new OffsetMap(text).toUtf16(cp);
}

/** The substring between two code point offsets (end exclusive). */
export function sliceCodePoints(text: string, start: number, end: number): string {
  const map = new OffsetMap(text);
  return text.slice(map.toUtf16(start), map.toUtf16(end));
}
