import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Project, Region, Schema, Task } from "../api/types";
import { toResult, type EditorRegion } from "../editor/regions";
import { resolveLabels } from "../lib/labels";
import { decodeRle } from "../lib/rle";
import { Editor } from "../workspace/Editor";
import { resolveTools } from "./registry";

function setup(schema: Schema, predictions: Task["predictions"] = []) {
  const project: Project = { id: "p", name: "img", schema, policy: {} };
  const task: Task = {
    id: "t",
    project_id: "p",
    state: "assigned",
    item: { id: "i", external_id: "street.png", modality: "image", media_url: "/api/v1/tasks/t/media", width: 200, height: 100 },
    predictions,
  };
  const onSubmit = vi.fn();
  render(
    <Editor
      api={null}
      project={project}
      task={task}
      media={{ kind: "image", url: "blob:street", width: 200, height: 100, levels: [] }}
      tools={resolveTools(schema)}
      labels={resolveLabels(schema)}
      error={null}
      submitted={0}
      onSubmit={onSubmit}
      onSkip={vi.fn()}
      onNext={vi.fn()}
    />,
  );
  const canvas = screen.getByTestId("canvas");
  // the 200x100 image is displayed at half size, at (10, 20) on the page
  canvas.getBoundingClientRect = () => ({ left: 10, top: 20, width: 100, height: 50, right: 110, bottom: 70, x: 10, y: 20, toJSON: () => ({}) });
  const submitted = (): Region[] => {
    press("Enter");
    const [result] = onSubmit.mock.calls.at(-1)!;
    return toResult(result as EditorRegion[]).map(({ id: _id, ...r }) => r as Region);
  };
  return { canvas, onSubmit, submitted };
}

const at = (x: number, y: number, extra: Partial<MouseEventInit> = {}) => ({ clientX: x, clientY: y, button: 0, detail: 1, ...extra });
const drag = (target: Element, from: [number, number], to: [number, number], extra: Partial<MouseEventInit> = {}) => {
  fireEvent.mouseDown(target, at(...from, extra));
  fireEvent.mouseMove(window, at((from[0] + to[0]) / 2, (from[1] + to[1]) / 2, extra));
  fireEvent.mouseMove(window, at(...to, extra));
  fireEvent.mouseUp(window, at(...to, extra));
};
const click = (target: Element, x: number, y: number, extra: Partial<MouseEventInit> = {}) => drag(target, [x, y], [x, y], extra);
const press = (key: string, init: Partial<KeyboardEventInit> = {}) => fireEvent.keyDown(document.body, { key, ...init });
const regions = () => screen.queryAllByTestId("region");

describe("image tools", () => {
  it("draws boxes in original-image pixels, relabels, moves, deletes, undoes and submits", () => {
    const { canvas, submitted } = setup({ modality: "image", labels: [{ name: "car" }, { name: "person" }], tools: ["bbox"] }, [
      { model_version: "m", score: 0.5, result: [{ type: "bbox", label: "car", x: 100, y: 50, w: 20, h: 10, score: 0.4 }] },
    ]);
    expect(regions()).toHaveLength(1); // the pre-label

    drag(canvas, [20, 30], [60, 50]);
    expect(regions()).toHaveLength(2);
    const drawn = regions()[1]!;
    expect(drawn.getAttribute("data-label")).toBe("car");
    expect(drawn.getAttribute("aria-selected")).toBe("true");

    press("2"); // relabel the selected box
    expect(regions()[1]!.getAttribute("data-label")).toBe("person");
    // drag the selected box by 5 screen px = 10 image px
    drag(canvas, [30, 35], [35, 35]);
    press("Delete");
    expect(regions()).toHaveLength(1);
    press("z", { ctrlKey: true });
    expect(regions()).toHaveLength(2);

    expect(submitted()).toEqual([
      { type: "bbox", label: "car", x: 100, y: 50, w: 20, h: 10, origin: { model_version: "m", edited: false } },
      { type: "bbox", label: "person", x: 30, y: 20, w: 80, h: 40 },
    ]);
  });

  it("treats a click as selection, accepts and rejects pre-labels, and marks edited ones", () => {
    const { canvas, submitted } = setup({ modality: "image", labels: [{ name: "car" }], tools: ["bbox"] }, [
      {
        model_version: "m2",
        score: 0.9,
        result: [
          { type: "bbox", label: "car", x: 100, y: 50, w: 20, h: 10 },
          { type: "bbox", label: "car", x: 10, y: 10, w: 20, h: 10, score: 0.3 },
        ],
      },
    ]);
    click(canvas, 20, 30); // empty space: nothing drawn
    expect(regions()).toHaveLength(2);
    expect(regions().every((r) => r.getAttribute("data-pending") === "true")).toBe(true);
    click(canvas, 65, 47); // on the first pre-label
    expect(regions()[0]!.getAttribute("aria-selected")).toBe("true");
    press("a");
    expect(regions()[0]!.getAttribute("data-pending")).toBeNull();
    drag(canvas, [65, 47], [70, 47]); // move it: now edited
    click(canvas, 20, 27); // the second one
    press("x");
    expect(regions()).toHaveLength(1);
    expect(submitted()).toEqual([{ type: "bbox", label: "car", x: 110, y: 50, w: 20, h: 10, origin: { model_version: "m2", edited: true } }]);
  });

  it("draws polygons and polylines with clicks, closing on the first point or with Enter", () => {
    const { canvas, submitted } = setup({ modality: "image", labels: [{ name: "road" }], tools: ["polygon", "polyline"] });
    press("p");
    click(canvas, 20, 30);
    click(canvas, 60, 30);
    click(canvas, 60, 60);
    expect(regions()).toHaveLength(0);
    click(canvas, 20.5, 30.5); // the first point closes it
    expect(regions()).toHaveLength(1);
    press("Escape");
    click(canvas, 40, 40, { altKey: true }); // Alt+click selects the polygon
    expect(regions()[0]!.getAttribute("aria-selected")).toBe("true");
    press("Escape");
    click(canvas, 100, 65);
    click(canvas, 105, 65);
    click(canvas, 105, 68);
    press("Backspace"); // takes the last vertex back
    click(canvas, 108, 68);
    press("Enter");
    press("l");
    click(canvas, 15, 65);
    click(canvas, 30, 68);
    fireEvent.mouseDown(canvas, at(30, 68, { detail: 2 }));
    fireEvent.mouseUp(window, at(30, 68, { detail: 2 }));
    expect(regions()).toHaveLength(3);
    expect(submitted()).toEqual([
      { type: "polygon", label: "road", points: [[20, 20], [100, 20], [100, 80]] },
      { type: "polygon", label: "road", points: [[180, 90], [190, 90], [196, 96]] },
      { type: "polyline", label: "road", points: [[10, 90], [40, 96]] },
    ]);
  });

  it("places keypoints along the label's skeleton, with hidden and skipped points", () => {
    const schema: Schema = { modality: "image", labels: [{ name: "face", keypoints: ["left_eye", "right_eye", "nose"], skeleton: [[1, 2], [2, 3]] }], tools: ["keypoints"] };
    const { canvas, submitted } = setup(schema);
    click(canvas, 20, 30);
    expect(screen.getByTestId("status").textContent).toContain("right_eye");
    click(canvas, 30, 30, { shiftKey: true });
    press("x");
    expect(regions()).toHaveLength(1);
    expect(submitted()).toEqual([{ type: "keypoints", label: "face", points: [[20, 20, 2], [40, 20, 1], [0, 0, 0]] }]);
  });

  it("paints a brush mask stored as COCO RLE, and erases with Shift", () => {
    const { canvas, submitted } = setup({ modality: "image", labels: [{ name: "sky" }], tools: ["mask"] });
    press("]"); // radius 2 -> 4
    drag(canvas, [20, 30], [40, 30]);
    expect(regions()).toHaveLength(1);
    const [mask] = submitted();
    const rle = (mask as unknown as { rle: { size: [number, number]; counts: string } }).rle;
    expect(rle.size).toEqual([100, 200]);
    expect(typeof rle.counts).toBe("string");
    const bitmap = decodeRle(rle);
    const inside = (x: number, y: number) => bitmap.data[x * 100 + y] === 1;
    expect(inside(20, 20)).toBe(true); // the stroke runs from (20, 20) to (60, 20) in image pixels
    expect(inside(40, 20)).toBe(true);
    expect(inside(60, 20)).toBe(true);
    expect(inside(40, 40)).toBe(false);
    // the mask stays selected: Shift+drag erases from it
    drag(canvas, [30, 30], [30, 30], { shiftKey: true });
    const erased = decodeRle((submitted()[0] as unknown as { rle: { size: [number, number]; counts: string } }).rle);
    expect(erased.data[40 * 100 + 20]).toBe(0);
    expect(erased.data[20 * 100 + 20]).toBe(1);
  });

  it("links two regions with a relation from the keyboard", () => {
    const { canvas, submitted } = setup({ modality: "image", labels: [{ name: "person" }, { name: "rides", tools: ["relation"] }], tools: ["bbox", "relation"] });
    drag(canvas, [12, 22], [30, 40]);
    drag(canvas, [60, 22], [90, 40]);
    press(","); // the first box (the second, just drawn, was selected)
    press("r");
    expect(screen.getByTestId("status").textContent).toContain("Linking from person");
    press(".");
    press("r");
    const result = submitted();
    expect(result).toHaveLength(3);
    expect(result[2]).toMatchObject({ type: "relation", label: "rides" });
    const ids = onSubmitIds();
    expect(result[2]).toMatchObject({ from: ids[0], to: ids[1] });
    function onSubmitIds() {
      return screen.getAllByTestId("region").map((r) => r.getAttribute("data-region-id"));
    }
  });

  it("zooms at the cursor and keeps coordinates in original pixels", () => {
    const { canvas, submitted } = setup({ modality: "image", labels: [{ name: "car" }], tools: ["bbox"] });
    act(() => {
      fireEvent.wheel(canvas, { clientX: 10, clientY: 20, deltaY: -462 }); // about 2x at the top-left corner
    });
    drag(canvas, [20, 30], [30, 40]);
    const [box] = submitted() as unknown as { x: number; y: number; w: number; h: number }[];
    expect(box!.x).toBeCloseTo(10, 0);
    expect(box!.w).toBeCloseTo(10, 0);
  });
});
