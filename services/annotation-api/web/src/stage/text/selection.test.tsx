import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { OffsetMap } from "../../lib/codepoints";
import { selectedRange } from "./selection";
import { TextChunk } from "./TextChunk";

const TEXT = "😀 Ada met 𝔅ob at  CERN ";
const map = new OffsetMap(TEXT);

function setup() {
  // "Ada" marked (UTF-16 3..6), "𝔅ob" marked (11..15)
  render(
    <div>
      <p data-testid="outside">outside</p>
      <div data-testid="text-content">
        <TextChunk
          text={TEXT}
          chunk={{ start: 0, end: TEXT.length }}
          index={0}
          marks={[
            { id: "a", start: 3, end: 6, label: "PER", color: "#f00", selected: false, pending: false, invalid: false },
            { id: "b", start: 11, end: 15, label: "PER", color: "#f00", selected: false, pending: false, invalid: false },
          ]}
        />
      </div>
    </div>,
  );
  return screen.getByTestId("text-content");
}

function select(startNode: Node, startOffset: number, endNode: Node, endOffset: number): Selection {
  const range = document.createRange();
  range.setStart(startNode, startOffset);
  range.setEnd(endNode, endOffset);
  const sel = window.getSelection()!;
  sel.removeAllRanges();
  sel.addRange(range);
  return sel;
}
const textOf = (el: Element) => el.firstChild!;

describe("selection to code point offsets", () => {
  it("maps a selection across marks to code points of the original text", () => {
    const root = setup();
    const [ada, bob] = screen.getAllByTestId("region");
    // from inside "Ada" (after "A") to inside "𝔅ob" (after "𝔅o")
    const sel = select(textOf(ada!.firstElementChild!), 1, textOf(bob!.firstElementChild!), 3);
    const range = selectedRange(root, sel, map)!;
    expect(range).toEqual({ start: 3, end: 12 });
    expect(Array.from(TEXT).slice(range.start, range.end).join("")).toBe("da met 𝔅o");
  });

  it("trims whitespace and clips a selection that leaves the text", () => {
    const root = setup();
    const last = root.querySelector(".text-chunk")!.lastElementChild!; // " at  CERN "
    const sel = select(last.firstChild!, 0, screen.getByTestId("outside").parentElement!, 2);
    const range = selectedRange(root, sel, map)!;
    expect(range).toEqual({ start: 14, end: 22 });
    expect(Array.from(TEXT).slice(range.start, range.end).join("")).toBe("at  CERN");
  });

  it("accepts element boundary points and ignores collapsed or outside selections", () => {
    const root = setup();
    expect(selectedRange(root, select(root, 0, root, root.childNodes.length), map)).toEqual({ start: 0, end: map.codePointLength - 1 });
    const outside = screen.getByTestId("outside");
    expect(selectedRange(root, select(outside.firstChild!, 0, outside.firstChild!, 3), map)).toBeNull();
    expect(selectedRange(root, select(root, 1, root, 1), map)).toBeNull();
  });
});
