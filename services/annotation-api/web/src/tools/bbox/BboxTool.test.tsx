import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Project, Task } from "../../api/types";
import { resolveLabels } from "../../lib/labels";
import { Editor } from "../../workspace/Editor";
import { resolveTools } from "../registry";

const project: Project = {
  id: "p",
  name: "cars",
  schema: { modality: "image", labels: [{ name: "car" }, { name: "person" }], tools: ["bbox"] },
  policy: {},
};
const task: Task = {
  id: "t",
  project_id: "p",
  state: "assigned",
  item: { id: "i", external_id: "street.png", modality: "image", media_url: "/api/v1/tasks/t/media", width: 200, height: 100 },
  predictions: [{ model_version: "m", score: 0.5, result: [{ type: "bbox", label: "car", x: 100, y: 50, w: 20, h: 10, score: 0.4 }] }],
};

function setup() {
  const onSubmit = vi.fn();
  render(
    <Editor
      project={project}
      task={task}
      media={{ kind: "image", url: "blob:street", width: 200, height: 100 }}
      tools={resolveTools(project.schema)}
      labels={resolveLabels(project.schema)}
      busy={false}
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
  return { canvas, onSubmit };
}

const drag = (target: Element, from: [number, number], to: [number, number]) => {
  fireEvent.mouseDown(target, { clientX: from[0], clientY: from[1], button: 0 });
  fireEvent.mouseMove(window, { clientX: (from[0] + to[0]) / 2, clientY: (from[1] + to[1]) / 2 });
  fireEvent.mouseMove(window, { clientX: to[0], clientY: to[1] });
  fireEvent.mouseUp(window, { clientX: to[0], clientY: to[1] });
};
const press = (key: string, init: Partial<KeyboardEventInit> = {}) => fireEvent.keyDown(document.body, { key, ...init });
const regions = () => screen.queryAllByTestId("region");

describe("bbox tool", () => {
  it("draws boxes in original-image pixels, relabels, deletes, undoes and submits", () => {
    const { canvas, onSubmit } = setup();
    expect(regions()).toHaveLength(1); // the prediction

    drag(canvas, [20, 30], [60, 50]);
    expect(regions()).toHaveLength(2);
    const drawn = regions()[1]!;
    expect(drawn.getAttribute("data-label")).toBe("car");
    expect(drawn.textContent).toBe("car");
    expect(drawn.getAttribute("aria-selected")).toBe("true");
    expect(drawn.style.left).toBe("10%");
    expect(drawn.style.width).toBe("40%");

    press("2"); // relabel the selected box
    expect(regions()[1]!.getAttribute("data-label")).toBe("person");

    // drag the selected box by 5 screen px = 10 image px
    drag(regions()[1]!, [30, 35], [35, 35]);

    press("Delete");
    expect(regions()).toHaveLength(1);
    press("z", { ctrlKey: true });
    expect(regions()).toHaveLength(2);

    press("Enter");
    expect(onSubmit).toHaveBeenCalledOnce();
    const [result, lead] = onSubmit.mock.calls[0]!;
    expect(lead).toBeGreaterThanOrEqual(0);
    expect(result.map(({ id: _id, ...r }: Record<string, unknown>) => r)).toEqual([
      { type: "bbox", label: "car", x: 100, y: 50, w: 20, h: 10 },
      { type: "bbox", label: "person", x: 30, y: 20, w: 80, h: 40 },
    ]);
  });

  it("treats a click as selection, not as a tiny box", () => {
    const { canvas } = setup();
    drag(canvas, [20, 30], [21, 31]);
    expect(regions()).toHaveLength(1);
    // a click on the predicted box selects it; Backspace deletes it
    drag(regions()[0]!, [65, 47], [65, 47]);
    expect(regions()[0]!.getAttribute("aria-selected")).toBe("true");
    press("Backspace");
    expect(regions()).toHaveLength(0);
  });
});
