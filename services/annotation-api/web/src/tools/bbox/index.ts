import type { ToolPlugin } from "../types";
import { BboxTool } from "./BboxTool";

export const bboxTool: ToolPlugin = {
  name: "bbox",
  title: "Bounding boxes",
  modalities: ["image"],
  placement: "stage",
  regionTypes: ["bbox"],
  usesLabels: true,
  Component: BboxTool,
};
