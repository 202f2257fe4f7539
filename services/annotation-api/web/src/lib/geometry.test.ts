import { describe, expect, it } from "vitest";
import { boxFromPoints, boxToPercent, clampBox, clientToImage, imageToClient, moveBox, resizeBox, screenSize } from "./geometry";

const image = { width: 1024, height: 768 };

describe("box coordinate scaling", () => {
  it("maps screen points to original image pixels", () => {
    // image shown at half size, offset by the page layout
    const rect = { left: 100, top: 50, width: 512, height: 384 };
    expect(clientToImage({ x: 100, y: 50 }, rect, image)).toEqual({ x: 0, y: 0 });
    expect(clientToImage({ x: 356, y: 242 }, rect, image)).toEqual({ x: 512, y: 384 });
    expect(clientToImage({ x: 612, y: 434 }, rect, image)).toEqual({ x: 1024, y: 768 });
  });

  it("handles non-uniform scale and upscaling", () => {
    const rect = { left: 0, top: 0, width: 2048, height: 384 };
    expect(clientToImage({ x: 1024, y: 192 }, rect, image)).toEqual({ x: 512, y: 384 });
  });

  it("clamps points outside the displayed image", () => {
    const rect = { left: 10, top: 10, width: 512, height: 384 };
    expect(clientToImage({ x: -50, y: 900 }, rect, image)).toEqual({ x: 0, y: 768 });
  });

  it("inverts with imageToClient", () => {
    const rect = { left: 33, top: 7, width: 300, height: 225 };
    const p = { x: 700, y: 123 };
    const back = clientToImage(imageToClient(p, rect, image), rect, image);
    expect(back.x).toBeCloseTo(700, 6);
    expect(back.y).toBeCloseTo(123, 6);
  });

  it("turns a drag into a box in any direction", () => {
    expect(boxFromPoints({ x: 50, y: 80 }, { x: 10, y: 20 })).toEqual({ x: 10, y: 20, w: 40, h: 60 });
  });

  it("a drag on a half-size display yields original-pixel boxes", () => {
    const rect = { left: 0, top: 0, width: 512, height: 384 };
    const a = clientToImage({ x: 10, y: 20 }, rect, image);
    const b = clientToImage({ x: 60, y: 70 }, rect, image);
    const box = clampBox(boxFromPoints(a, b), image);
    expect(box).toEqual({ x: 20, y: 40, w: 100, h: 100 });
    expect(screenSize(box, rect, image)).toEqual({ width: 50, height: 50 });
  });

  it("positions boxes as percentages", () => {
    expect(boxToPercent({ x: 512, y: 192, w: 256, h: 384 }, image)).toEqual({ left: "50%", top: "25%", width: "25%", height: "50%" });
  });

  it("clamps, moves and resizes inside the image", () => {
    expect(clampBox({ x: -10, y: 700, w: 50, h: 100 }, image)).toEqual({ x: 0, y: 700, w: 40, h: 68 });
    expect(moveBox({ x: 1000, y: 10, w: 100, h: 50 }, 50, -30, image)).toEqual({ x: 924, y: 0, w: 100, h: 50 });
    expect(resizeBox({ x: 10, y: 10, w: 100, h: 100 }, "se", { x: 200, y: 50 }, image)).toEqual({ x: 10, y: 10, w: 190, h: 40 });
    expect(resizeBox({ x: 10, y: 10, w: 100, h: 100 }, "nw", { x: 150, y: 0 }, image)).toEqual({ x: 110, y: 0, w: 40, h: 110 });
  });
});
