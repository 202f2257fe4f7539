// COCO run-length masks, as pycocotools writes and reads them: {"size": [h, w], "counts": ...}.
// Pixels are in COLUMN-MAJOR order (index = x * h + y); runs alternate 0s and 1s, starting with 0s.
// `counts` is a list of run lengths (uncompressed) or COCO's compressed string (rleToString / rleFrString in
// pycocotools' maskApi.c). tests/integration/test_workspace_rle.py checks this module against pycocotools.

export interface CocoRle {
  size: [number, number];
  counts: string | number[];
}

/** A binary mask in column-major order: data[x * height + y] is 1 inside. */
export interface Bitmap {
  width: number;
  height: number;
  data: Uint8Array;
}

export function emptyBitmap(width: number, height: number): Bitmap {
  return { width, height, data: new Uint8Array(width * height) };
}

/** Run lengths of a column-major bitmap (first run counts 0s, possibly 0). */
export function bitmapToRuns(bitmap: Bitmap): number[] {
  const { data } = bitmap;
  const runs: number[] = [];
  let value = 0;
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if ((data[i]! !== 0 ? 1 : 0) !== value) {
      runs.push(i - start);
      start = i;
      value ^= 1;
    }
  }
  runs.push(data.length - start);
  return runs;
}

/** COCO's compressed counts string (pycocotools' rleToString). */
export function runsToString(runs: readonly number[]): string {
  let out = "";
  for (let i = 0; i < runs.length; i++) {
    let x = runs[i]!;
    if (i > 2) x -= runs[i - 2]!;
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5; // arithmetic shift: negative deltas keep their sign
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

/** Run lengths from COCO's compressed counts string (pycocotools' rleFrString). */
export function stringToRuns(counts: string): number[] {
  const runs: number[] = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= counts.length) throw new Error("compressed RLE counts end in the middle of a number");
      const c = counts.charCodeAt(p) - 48;
      if (c < 0 || c >= 64) throw new Error(`character ${JSON.stringify(counts[p])} is not in COCO's RLE alphabet`);
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (runs.length > 2) x += runs[runs.length - 2]!;
    if (x < 0) throw new Error("compressed RLE counts decode to a negative run");
    runs.push(x);
  }
  return runs;
}

export function rleRuns(rle: CocoRle): number[] {
  return typeof rle.counts === "string" ? stringToRuns(rle.counts) : [...rle.counts];
}

/** A bitmap as a COCO RLE with compressed counts. */
export function encodeRle(bitmap: Bitmap): CocoRle {
  return { size: [bitmap.height, bitmap.width], counts: runsToString(bitmapToRuns(bitmap)) };
}

export function decodeRle(rle: CocoRle): Bitmap {
  const [height, width] = rle.size;
  const bitmap = emptyBitmap(width, height);
  let pos = 0;
  const runs = rleRuns(rle);
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!;
    if (i % 2 === 1 && run > 0) bitmap.data.fill(1, pos, Math.min(pos + run, bitmap.data.length));
    pos += run;
  }
  return bitmap;
}

export function rleArea(rle: CocoRle): number {
  return rleRuns(rle).reduce((sum, run, i) => (i % 2 === 1 ? sum + run : sum), 0);
}

/** The pixel box [x, y, w, h] covered by the mask, or null when it is empty. */
export function rleBounds(rle: CocoRle): { x: number; y: number; w: number; h: number } | null {
  const height = rle.size[0];
  const runs = rleRuns(rle);
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  let pos = 0;
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!;
    if (i % 2 === 1 && run > 0) {
      const first = pos;
      const last = pos + run - 1;
      const cx0 = Math.floor(first / height);
      const cx1 = Math.floor(last / height);
      x0 = Math.min(x0, cx0);
      x1 = Math.max(x1, cx1);
      // a run crossing a column boundary reaches the last row of one column and the first row of the next
      if (cx1 > cx0) {
        y0 = 0;
        y1 = height - 1;
      } else {
        y0 = Math.min(y0, first % height);
        y1 = Math.max(y1, last % height);
      }
    }
    pos += run;
  }
  if (x0 === Infinity) return null;
  return { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/** Set (value 1) or clear (value 0) a filled disc of radius r (pixels) centred at (cx, cy). */
export function paintDisc(bitmap: Bitmap, cx: number, cy: number, r: number, value: 0 | 1): void {
  const { width, height, data } = bitmap;
  const xMin = Math.max(0, Math.floor(cx - r));
  const xMax = Math.min(width - 1, Math.ceil(cx + r));
  for (let x = xMin; x <= xMax; x++) {
    const dx = x + 0.5 - cx;
    const half = r * r - dx * dx;
    if (half < 0) continue;
    const dy = Math.sqrt(half);
    const yMin = Math.max(0, Math.ceil(cy - dy - 0.5));
    const yMax = Math.min(height - 1, Math.floor(cy + dy - 0.5));
    if (yMax >= yMin) data.fill(value, x * height + yMin, x * height + yMax + 1);
  }
}

/** A brush stroke from a to b: discs every r/2 pixels along the segment. */
export function paintStroke(
  bitmap: Bitmap,
  a: { x: number; y: number },
  b: { x: number; y: number },
  r: number,
  value: 0 | 1,
): void {
  const length = Math.hypot(b.x - a.x, b.y - a.y);
  const steps = Math.max(1, Math.ceil(length / Math.max(0.5, r / 2)));
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    paintDisc(bitmap, a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, r, value);
  }
}
