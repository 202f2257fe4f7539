import { describe, expect, it } from "vitest";
import { chunkIndexOf, chunkText, marksByChunk, type Mark } from "./chunks";

describe("text chunks", () => {
  it("cuts whole lines, and long lines at whitespace, covering the text exactly", () => {
    const text = ["short line", "x".repeat(50), "a ".repeat(400), "end"].join("\n");
    const chunks = chunkText(text, 100);
    expect(chunks[0]!.start).toBe(0);
    expect(chunks.at(-1)!.end).toBe(text.length);
    chunks.slice(1).forEach((c, i) => expect(c.start).toBe(chunks[i]!.end));
    for (const c of chunks) expect(c.end - c.start).toBeLessThanOrEqual(150);
    // a cut in the long line is after a space
    for (const c of chunks.slice(0, -1)) expect(/[\s]/.test(text[c.end - 1]!)).toBe(true);
    expect(chunkIndexOf(chunks, 0)).toBe(0);
    expect(chunkIndexOf(chunks, text.length)).toBe(chunks.length - 1);
    expect(chunkText("")).toEqual([{ start: 0, end: 0 }]);
  });

  it("never cuts a surrogate pair", () => {
    const text = "😀".repeat(200);
    for (const c of chunkText(text, 31)) expect(c.start % 2).toBe(0);
  });

  it("gives each chunk the marks that touch it", () => {
    const chunks = [{ start: 0, end: 10 }, { start: 10, end: 20 }, { start: 20, end: 30 }];
    const mark = (id: string, start: number, end: number): Mark => ({ id, start, end, label: "L", color: "#000", selected: false, pending: false, invalid: false });
    const per = marksByChunk(chunks, [mark("a", 2, 4), mark("b", 8, 25), mark("c", 20, 30)]);
    expect(per.map((list) => list.map((m) => m.id))).toEqual([["a", "b"], ["b"], ["b", "c"]]);
  });
});
