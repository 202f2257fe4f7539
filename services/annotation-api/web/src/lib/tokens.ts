// Tokens for click-to-select and keyboard navigation: runs of letters, digits and marks (with inner
// apostrophes, hyphens and dots, as in "don't", "e-mail", "U.S."), or a single other non-space character.
// Offsets are UTF-16 (JS string) offsets, end exclusive.

const WORD = /[\p{L}\p{N}\p{M}_]/u;
const JOINER = /['’\-.]/u;

export interface TokenRange {
  start: number;
  end: number;
}

function isWordAt(text: string, i: number): boolean {
  const cp = text.codePointAt(i);
  return cp !== undefined && WORD.test(String.fromCodePoint(cp));
}
function charLen(text: string, i: number): number {
  const cp = text.codePointAt(i);
  return cp !== undefined && cp > 0xffff ? 2 : 1;
}
function prevStart(text: string, i: number): number {
  if (i >= 2) {
    const lo = text.charCodeAt(i - 1);
    const hi = text.charCodeAt(i - 2);
    if (lo >= 0xdc00 && lo <= 0xdfff && hi >= 0xd800 && hi <= 0xdbff) return i - 2;
  }
  return i - 1;
}

/** The token that starts at `i` (a non-space position). */
function tokenFrom(text: string, i: number): TokenRange {
  if (!isWordAt(text, i)) return { start: i, end: i + charLen(text, i) };
  let end = i;
  while (end < text.length) {
    if (isWordAt(text, end)) end += charLen(text, end);
    else if (JOINER.test(text[end]!) && end + 1 < text.length && isWordAt(text, end + 1)) end += 1;
    else break;
  }
  return { start: i, end };
}

/** Start of the token containing position i (i inside a word). */
function wordStart(text: string, i: number): number {
  let start = i;
  while (start > 0) {
    const p = prevStart(text, start);
    if (isWordAt(text, p)) start = p;
    else if (JOINER.test(text[p]!) && p > 0 && isWordAt(text, prevStart(text, p))) start = p;
    else break;
  }
  return start;
}

/** The token at or next to UTF-16 offset `offset` (a click position), or null for whitespace-only text. */
export function tokenAt(text: string, offset: number): TokenRange | null {
  if (text.length === 0) return null;
  let i = Math.min(Math.max(0, offset), text.length - 1);
  const c = text.charCodeAt(i);
  if (c >= 0xdc00 && c <= 0xdfff && i > 0) i = prevStart(text, i + 1); // inside a surrogate pair
  if (/\s/.test(text[i]!)) {
    // a click just after a word (on the space) means that word
    if (i > 0 && !/\s/.test(text[prevStart(text, i)]!)) i = prevStart(text, i);
    else return nextToken(text, i);
  }
  if (isWordAt(text, i)) return tokenFrom(text, wordStart(text, i));
  return { start: i, end: i + charLen(text, i) };
}

/** The first token starting at or after `from`. */
export function nextToken(text: string, from: number): TokenRange | null {
  let i = Math.max(0, from);
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i < text.length ? tokenFrom(text, i) : null;
}

/** The last token ending at or before `before`. */
export function previousToken(text: string, before: number): TokenRange | null {
  let i = Math.min(text.length, before);
  while (i > 0 && /\s/.test(text[i - 1]!)) i--;
  if (i === 0) return null;
  const last = prevStart(text, i);
  return isWordAt(text, last) ? tokenFrom(text, wordStart(text, last)) : { start: last, end: i };
}
