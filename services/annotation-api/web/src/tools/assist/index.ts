// Interactive assist (click-to-segment, box-to-polygon) through POST /tasks/{id}/assist, which asks
// preannotate's model (README, "Workspace API"). Its answers open as pre-labels. Until a model is
// served the API answers 501 and the reason is shown; nothing is made up here.
import { isBbox, prelabelRegions } from "../../editor/regions";
import { ApiError } from "../../api/client";
import type { AssistRequest } from "../../api/types";
import { labelForTool } from "../../lib/labels";
import type { DrawSession, EditorApi, SessionContext, ToolPlugin } from "../types";

const TYPES = new Set(["polygon", "mask", "bbox"]);

export async function runAssist(editor: EditorApi, request: AssistRequest): Promise<void> {
  if (!editor.api) return;
  editor.notify(request.kind === "box_to_polygon" ? "Asking the model for a polygon…" : "Asking the model to segment…");
  try {
    const reply = await editor.api.assist(editor.task.id, request);
    const regions = prelabelRegions({ model_version: reply.model_version ?? "assist", result: reply.regions }, TYPES);
    editor.dispatch({ type: "addMany", regions });
    if (regions[0]) editor.select(regions[0].id);
    editor.notify(regions.length ? `The model proposed ${regions.length} region(s): accept with A, reject with X.` : "The model found nothing here.");
  } catch (e) {
    const detail = e instanceof ApiError ? e.detail : "Could not reach the Annotary server.";
    editor.notify(`Assist unavailable: ${detail}`);
  }
}

function clickSession(ctx: SessionContext): DrawSession {
  return {
    down(p, e) {
      const label = labelForTool(ctx.editor.labels, "mask", ctx.editor.activeLabel()) ?? labelForTool(ctx.editor.labels, "polygon", ctx.editor.activeLabel());
      void runAssist(ctx.editor, {
        kind: "click_to_segment",
        points: [[Math.round(p.x), Math.round(p.y), e.alt ? 0 : 1]],
        ...(label ? { label } : {}),
      });
      return "consume";
    },
    move() {},
    up() {},
    busy: () => false,
    cancel() {},
    hint: () => "Click an object to segment it (Alt+click marks background); needs an interactive model",
  };
}

export const assistTool: ToolPlugin = {
  name: "assist",
  title: "Assist",
  modalities: ["image"],
  placement: "stage",
  regionTypes: [],
  usesLabels: false,
  implied: ["polygon", "mask"],
  drawsByDefault: false,
  key: "i",
  hint: "click an object and the model segments it",
  image: {
    bounds: () => null,
    draw() {},
    hit: () => false,
    session: clickSession,
  },
  shortcuts: ({ letter }) => [
    {
      ...letter("b", true),
      description: "Box to polygon: the model outlines the object in the selected box",
      run(editor) {
        const sel = editor.selectedId();
        const box = sel ? editor.regions().find((r) => r.id === sel) : undefined;
        if (!box || !isBbox(box)) {
          editor.notify("Select a box first.");
          return;
        }
        const label = labelForTool(editor.labels, "polygon", box.label);
        void runAssist(editor, { kind: "box_to_polygon", region: { type: "bbox", x: box.x, y: box.y, w: box.w, h: box.h, label: box.label }, ...(label ? { label } : {}) });
      },
    },
  ],
};
