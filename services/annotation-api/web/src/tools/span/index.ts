// NER spans: select text (drag, click a token, Shift+click or the arrow keys), then press a label hotkey or
// click a label. Click a span to select it: a hotkey relabels it, Delete removes it, R links it.
import { isSpan, newRegionId } from "../../editor/regions";
import { sliceCodePoints } from "../../lib/codepoints";
import { labelsFor } from "../../lib/labels";
import type { ToolPlugin } from "../types";

export const spanTool: ToolPlugin = {
  name: "span",
  title: "Text spans",
  modalities: ["text"],
  placement: "stage",
  regionTypes: ["span"],
  usesLabels: true,
  key: "s",
  hint: "select text, then a label",
  text: {
    mark: (r) => (isSpan(r) ? { start: r.start, end: r.end } : null),
    fromSelection(range, label, editor) {
      if (!labelsFor(editor.labels, "span").some((l) => l.name === label)) return null;
      const duplicate = editor.regions().find((r) => isSpan(r) && r.label === label && r.start === range.start && r.end === range.end);
      return duplicate ?? { type: "span", id: newRegionId(), label, start: range.start, end: range.end };
    },
  },
  describe: (r, { text }) => (!isSpan(r) ? r.type : text === null ? `${r.start}–${r.end}` : `“${sliceCodePoints(text, r.start, r.end)}”`),
};
