import { describe, expect, it } from "vitest";
import { FIT, clampView, imageAt, panBy, visibleBox, zoomAt } from "./view";

const image = { width: 4096, height: 2048 };

describe("image view", () => {
  it("zooms at the cursor: the image point under it stays put", () => {
    const anchor = imageAt(FIT, image, 0.25, 0.75);
    const zoomed = zoomAt(FIT, image, 0.25, 0.75, 4, 100);
    expect(zoomed.zoom).toBe(4);
    const after = imageAt(zoomed, image, 0.25, 0.75);
    expect(after.x).toBeCloseTo(anchor.x);
    expect(after.y).toBeCloseTo(anchor.y);
    expect(visibleBox(zoomed, image).w).toBe(1024);
  });

  it("never zooms out past the whole image nor pans off it", () => {
    expect(zoomAt(FIT, image, 0.5, 0.5, 0.5, 100)).toEqual(FIT);
    const z = zoomAt(FIT, image, 0.5, 0.5, 2, 100);
    const far = panBy(z, image, -5, -5, 100);
    expect(far.ox).toBe(2048);
    expect(far.oy).toBe(1024);
    expect(panBy(z, image, 5, 5, 100)).toMatchObject({ ox: 0, oy: 0 });
    expect(clampView({ zoom: 1000, ox: 0, oy: 0 }, image, 64).zoom).toBe(64);
  });
});
