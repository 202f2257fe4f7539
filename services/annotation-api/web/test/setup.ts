import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

// jsdom has no 2D canvas: drawing is skipped, geometry and events still work
HTMLCanvasElement.prototype.getContext = (() => null) as unknown as HTMLCanvasElement["getContext"];

afterEach(() => {
  cleanup();
  localStorage.clear();
});
