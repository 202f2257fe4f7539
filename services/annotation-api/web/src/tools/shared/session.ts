// Helpers shared by the image tools' drawing sessions.
import { newRegionId, type EditorRegion } from "../../editor/regions";
import { labelForTool } from "../../lib/labels";
import type { EditorApi } from "../types";

/** The label a new region of `tool` gets, or null (with a notice) when the schema has none for it. */
export function newLabel(editor: EditorApi, tool: string): string | null {
  const label = labelForTool(editor.labels, tool, editor.activeLabel());
  if (!label) editor.notify(`No label of the schema is for the ${tool} tool.`);
  return label;
}

/** Add a region made by the person (a new id, selected). */
export function addRegion(editor: EditorApi, region: Omit<EditorRegion, "id">): string {
  const id = newRegionId();
  editor.dispatch({ type: "add", region: { ...region, id } as EditorRegion });
  editor.select(id);
  return id;
}
