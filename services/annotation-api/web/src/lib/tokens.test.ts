import { describe, expect, it } from "vitest";
import { nextToken, previousToken, tokenAt } from "./tokens";

const TEXT = "Dr. O'Neil met 😀 e-mail users in São Paulo, U.S.";
const word = (r: { start: number; end: number } | null) => (r ? TEXT.slice(r.start, r.end) : null);

describe("tokens", () => {
  it("finds the word under a click, with inner apostrophes, hyphens and dots", () => {
    expect(word(tokenAt(TEXT, TEXT.indexOf("Neil")))).toBe("O'Neil");
    expect(word(tokenAt(TEXT, TEXT.indexOf("mail")))).toBe("e-mail");
    expect(word(tokenAt(TEXT, TEXT.indexOf("ão")))).toBe("São");
    expect(word(tokenAt(TEXT, TEXT.lastIndexOf("S")))).toBe("U.S");
    expect(word(tokenAt(TEXT, TEXT.length - 1))).toBe(".");
    expect(word(tokenAt(TEXT, TEXT.indexOf("😀") + 1))).toBe("😀");
    // a click on the space after a word means that word
    expect(word(tokenAt(TEXT, TEXT.indexOf(" met")))).toBe("O'Neil");
    expect(tokenAt("   ", 1)).toBeNull();
  });

  it("steps to the next and previous tokens", () => {
    const met = TEXT.indexOf("met");
    expect(word(nextToken(TEXT, met + 3))).toBe("😀");
    expect(word(previousToken(TEXT, met))).toBe("O'Neil");
    expect(word(nextToken(TEXT, TEXT.indexOf("Paulo") + 5))).toBe(",");
    expect(nextToken(TEXT, TEXT.length)).toBeNull();
    expect(previousToken(TEXT, 0)).toBeNull();
  });
});
