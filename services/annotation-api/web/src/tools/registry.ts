// THE list of annotation tools. To add a tool: write tools/<name>/index.ts exporting a ToolPlugin and list it here.
import type { Schema } from "../api/types";
import { assistTool } from "./assist";
import { segmentTool } from "./audio";
import { bboxTool } from "./bbox";
import { choiceTool } from "./choice";
import { keypointsTool } from "./keypoints";
import { maskTool } from "./mask";
import { polygonTool, polylineTool } from "./polygon";
import { relationTool } from "./relation";
import { spanTool } from "./span";
import type { ToolPlugin } from "./types";
import { trackTool } from "./video";

export const TOOLS: readonly ToolPlugin[] = [
  bboxTool,
  polygonTool,
  polylineTool,
  keypointsTool,
  maskTool,
  assistTool,
  spanTool,
  relationTool,
  choiceTool,
  segmentTool,
  trackTool,
];

export function getTool(name: string, tools: readonly ToolPlugin[] = TOOLS): ToolPlugin | undefined {
  return tools.find((t) => t.name === name);
}

export interface ResolvedTools {
  /** Tools that work on the item itself, in schema order (tools implied by others last). */
  stage: ToolPlugin[];
  /** The drawing tool the workspace starts with. */
  initial: ToolPlugin | undefined;
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
  const resolved: ResolvedTools = { stage: [], initial: undefined, panels: [], unsupported: [], regionTypes: new Set(), usesLabels: false };
  const named = new Set(schema.tools ?? []);
  const take = (tool: ToolPlugin) => {
    if (tool.placement === "stage") resolved.stage.push(tool);
    else resolved.panels.push(tool);
    tool.regionTypes.forEach((t) => resolved.regionTypes.add(t));
    resolved.usesLabels ||= tool.usesLabels;
  };
  for (const name of named) {
    const tool = getTool(name, tools);
    if (!tool || !tool.modalities.includes(schema.modality)) {
      resolved.unsupported.push(name);
      continue;
    }
    take(tool);
  }
  for (const tool of tools) {
    if (!named.has(tool.name) && tool.modalities.includes(schema.modality) && tool.implied?.some((t) => named.has(t))) take(tool);
  }
  resolved.initial = resolved.stage.find((t) => t.drawsByDefault !== false) ?? resolved.stage[0];
  return resolved;
}
