// THE list of annotation tools. To add a tool: write tools/<name>/index.ts exporting a ToolPlugin and list it here.
import type { Schema } from "../api/types";
import { bboxTool } from "./bbox";
import { choiceTool } from "./choice";
import { spanTool } from "./span";
import type { ToolPlugin } from "./types";

export const TOOLS: readonly ToolPlugin[] = [bboxTool, spanTool, choiceTool];

export function getTool(name: string, tools: readonly ToolPlugin[] = TOOLS): ToolPlugin | undefined {
  return tools.find((t) => t.name === name);
}

export interface ResolvedTools {
  /** The tool that draws on the item (the first stage tool listed in the schema), if any. */
  stage: ToolPlugin | undefined;
  /** Side-panel tools, in schema order. */
  panels: ToolPlugin[];
  /** Tools the schema names that this UI does not have (or that do not fit the modality). */
  unsupported: string[];
  /** Region types kept from predictions and saved results. */
  regionTypes: Set<string>;
  usesLabels: boolean;
}

/** Pick the workspace's tools from `schema.tools`. */
export function resolveTools(schema: Pick<Schema, "tools" | "modality">, tools: readonly ToolPlugin[] = TOOLS): ResolvedTools {
  const resolved: ResolvedTools = { stage: undefined, panels: [], unsupported: [], regionTypes: new Set(), usesLabels: false };
  for (const name of new Set(schema.tools ?? [])) {
    const tool = getTool(name, tools);
    const fits = tool && tool.modalities.includes(schema.modality);
    if (!tool || !fits || (tool.placement === "stage" && resolved.stage)) {
      resolved.unsupported.push(name);
      continue;
    }
    if (tool.placement === "stage") resolved.stage = tool;
    else resolved.panels.push(tool);
    tool.regionTypes.forEach((t) => resolved.regionTypes.add(t));
    resolved.usesLabels ||= tool.usesLabels;
  }
  return resolved;
}
