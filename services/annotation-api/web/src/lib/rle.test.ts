import { describe, expect, it } from "vitest";
import { bitmapToRuns, decodeRle, emptyBitmap, encodeRle, paintDisc, paintStroke, rleArea, rleBounds, runsToString, stringToRuns } from "./rle";

// a 4x5 mask (h=4, w=5): a 2x3 block and one pixel in the top-right corner; pycocotools encodes it as "522000OO2"
const COLUMN_MAJOR = [0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0];

describe("COCO RLE", () => {
  it("encodes like pycocotools (column-major, compressed counts)", () => {
    const bitmap = { width: 5, height: 4, data: Uint8Array.from(COLUMN_MAJOR) };
    expect(bitmapToRuns(bitmap)).toEqual([5, 2, 2, 2, 2, 2, 1, 1, 3]);
    expect(encodeRle(bitmap)).toEqual({ size: [4, 5], counts: "522000OO2" });
    expect(Array.from(decodeRle({ size: [4, 5], counts: "522000OO2" }).data)).toEqual(COLUMN_MAJOR);
    expect(Array.from(decodeRle({ size: [4, 5], counts: [5, 2, 2, 2, 2, 2, 1, 1, 3] }).data)).toEqual(COLUMN_MAJOR);
    expect(rleArea({ size: [4, 5], counts: "522000OO2" })).toBe(7);
    expect(rleBounds({ size: [4, 5], counts: "522000OO2" })).toEqual({ x: 1, y: 0, w: 4, h: 3 });
  });

  it("round-trips long and negative deltas, and empty masks", () => {
    const runs = [0, 70000, 3, 1, 100000, 2, 40, 0];
    expect(stringToRuns(runsToString(runs))).toEqual(runs);
    const empty = emptyBitmap(3, 2);
    expect(encodeRle(empty)).toEqual({ size: [2, 3], counts: "6" });
    expect(rleBounds(encodeRle(empty))).toBeNull();
    expect(() => stringToRuns("5\u00ff")).toThrow(/alphabet/);
  });

  it("paints discs and strokes, and erases", () => {
    const bitmap = emptyBitmap(100, 80);
    paintDisc(bitmap, 50, 40, 10, 1);
    const area = rleArea(encodeRle(bitmap));
    expect(Math.abs(area - Math.PI * 100)).toBeLessThan(20);
    expect(rleBounds(encodeRle(bitmap))).toEqual({ x: 40, y: 30, w: 20, h: 20 });
    paintStroke(bitmap, { x: 0, y: 0 }, { x: 99, y: 0 }, 2, 1);
    expect(bitmap.data[99 * 80 + 0]).toBe(1);
    paintDisc(bitmap, 50, 40, 4, 0);
    expect(bitmap.data[50 * 80 + 40]).toBe(0);
    expect(bitmap.data[50 * 80 + 32]).toBe(1);
  });
});
