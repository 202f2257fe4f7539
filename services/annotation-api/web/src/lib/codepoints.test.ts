import { describe, expect, it } from "vitest";
import { OffsetMap, codePointLength, codePointToUtf16, sliceCodePoints, utf16ToCodePoint } from "./codepoints";

describe("code point / UTF-16 offsets", () => {
  it("is the identity for BMP-only text", () => {
    const text = "Alice met Bob in Zürich. 東京";
    for (let i = 0; i <= text.length; i++) {
      expect(utf16ToCodePoint(text, i)).toBe(i);
      expect(codePointToUtf16(text, i)).toBe(i);
    }
  });

  it("counts an emoji as one code point and two code units", () => {
    const text = "I 😀 Paris";
    expect(text.length).toBe(10);
    expect(codePointLength(text)).toBe(9);
    const parisU16 = text.indexOf("Paris");
    expect(parisU16).toBe(5);
    expect(utf16ToCodePoint(text, parisU16)).toBe(4);
    expect(codePointToUtf16(text, 4)).toBe(5);
    expect(sliceCodePoints(text, 4, 9)).toBe("Paris");
    expect(sliceCodePoints(text, 2, 3)).toBe("😀");
  });

  it("handles several astral characters and ZWJ sequences", () => {
    const text = "👩‍👩‍👧 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 x";
    // family = 5 code points (3 emoji + 2 ZWJ), 8 code units
    expect(utf16ToCodePoint(text, 8)).toBe(5);
    const word = "𝔘𝔫𝔦𝔠𝔬𝔡𝔢";
    const u16 = text.indexOf(word);
    const cp = utf16ToCodePoint(text, u16);
    expect(cp).toBe(10);
    expect(sliceCodePoints(text, cp, cp + 7)).toBe(word);
    expect(codePointLength(text)).toBe(Array.from(text).length);
  });

  it("round-trips every boundary", () => {
    const text = "a😀b🇫🇷c\n𝄞d";
    const map = new OffsetMap(text);
    expect(map.codePointLength).toBe(Array.from(text).length);
    for (let cp = 0; cp <= map.codePointLength; cp++) {
      expect(map.toCodePoint(map.toUtf16(cp))).toBe(cp);
      expect(text.slice(0, map.toUtf16(cp))).toBe(Array.from(text).slice(0, cp).join(""));
    }
  });

  it("rounds an offset inside a surrogate pair down or up", () => {
    const text = "x😀y";
    expect(utf16ToCodePoint(text, 2, "floor")).toBe(1);
    expect(utf16ToCodePoint(text, 2, "ceil")).toBe(2);
    expect(utf16ToCodePoint(text, 3, "ceil")).toBe(2);
  });

  it("clamps out-of-range offsets and tolerates lone surrogates", () => {
    const text = "ab\ud800c";
    expect(codePointLength(text)).toBe(4);
    expect(codePointToUtf16(text, 99)).toBe(text.length);
    expect(codePointToUtf16(text, -3)).toBe(0);
    expect(utf16ToCodePoint(text, 99)).toBe(4);
    expect(codePointLength("")).toBe(0);
  });
});
