import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Project, Region, Task } from "../../api/types";
import { toResult, type EditorRegion } from "../../editor/regions";
import { resolveLabels } from "../../lib/labels";
import { resolveTools } from "../../tools/registry";
import { Editor } from "../../workspace/Editor";

const TEXT = "😀 Ada Lovelace met Charles Babbage in London.";

function setup(text = TEXT) {
  const project: Project = {
    id: "p",
    name: "ner",
    schema: { modality: "text", labels: [{ name: "PER" }, { name: "LOC" }, { name: "knows", tools: ["relation"] }], tools: ["span", "relation"] },
    policy: {},
  };
  const task: Task = { id: "t", project_id: "p", state: "assigned", item: { id: "i", modality: "text", text }, predictions: [] };
  const onSubmit = vi.fn();
  render(
    <Editor
      api={null}
      project={project}
      task={task}
      media={{ kind: "text", text }}
      tools={resolveTools(project.schema)}
      labels={resolveLabels(project.schema)}
      error={null}
      submitted={0}
      onSubmit={onSubmit}
      onSkip={vi.fn()}
      onNext={vi.fn()}
    />,
  );
  const submitted = (): Region[] => {
    press("Enter");
    return toResult(onSubmit.mock.calls.at(-1)![0] as EditorRegion[]).map(({ id: _id, ...r }) => r as Region);
  };
  return { submitted };
}

const press = (key: string, init: Partial<KeyboardEventInit> = {}) => fireEvent.keyDown(document.body, { key, ...init });
const selected = () => window.getSelection()!.toString();

/** A click in the text: the caret lands in `word`, then the mouse button comes up. */
function clickIn(word: string, shift = false) {
  const root = screen.getByTestId("text-content");
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.textContent!.indexOf(word);
    if (at < 0) continue;
    const sel = window.getSelection()!;
    if (shift && sel.rangeCount > 0) sel.extend(node, at + 1);
    else sel.collapse(node, at + 1);
    fireEvent.mouseUp(node.parentElement!, { button: 0, shiftKey: shift });
    return;
  }
  throw new Error(`${word} not found`);
}

describe("text stage", () => {
  it("selects tokens with clicks and arrow keys, and labels them in code points", () => {
    const { submitted } = setup();
    clickIn("Ada");
    expect(selected()).toBe("Ada");
    clickIn("Lovelace", true);
    expect(selected()).toBe("Ada Lovelace");
    press("1");
    press("ArrowRight");
    expect(selected()).toBe("met");
    press("ArrowRight");
    press("ArrowRight", { shiftKey: true });
    expect(selected()).toBe("Charles Babbage");
    press("1");
    press("ArrowRight");
    press("ArrowRight");
    expect(selected()).toBe("London");
    press("ArrowRight", { shiftKey: true });
    press("ArrowLeft", { shiftKey: true });
    expect(selected()).toBe("London");
    press("2");
    expect(screen.getAllByTestId("region").map((r) => r.textContent)).toEqual(["Ada Lovelace", "Charles Babbage", "London"]);
    expect(submitted()).toEqual([
      { type: "span", label: "PER", start: 2, end: 14 },
      { type: "span", label: "PER", start: 19, end: 34 },
      { type: "span", label: "LOC", start: 38, end: 44 },
    ]);
  });

  it("selects a span with a click, relabels, and links two spans from the keyboard", () => {
    const { submitted } = setup();
    clickIn("Ada");
    press("1");
    clickIn("London");
    press("1");
    fireEvent.click(screen.getAllByTestId("region")[1]!); // London: selected, then relabelled
    press("2");
    press(","); // Ada
    press("r");
    press(".");
    press("r");
    const result = submitted();
    expect(result.map((r) => [r.type, r.label])).toEqual([
      ["span", "PER"],
      ["span", "LOC"],
      ["relation", "knows"],
    ]);
  });

  it("renders a long text a window of chunks at a time", () => {
    const text = Array.from({ length: 400 }, (_, i) => `Paragraph ${i} ${"word ".repeat(60)}`).join("\n\n");
    setup(text);
    const chunks = document.querySelectorAll(".text-chunk");
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.length).toBeLessThan(10);
    expect(screen.getByTestId("text-content").textContent!.length).toBeLessThan(text.length / 10);
  });
});
