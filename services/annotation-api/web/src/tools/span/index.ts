import type { ToolPlugin } from "../types";
import { SpanTool } from "./SpanTool";

export const spanTool: ToolPlugin = {
  name: "span",
  title: "Text spans",
  modalities: ["text"],
  placement: "stage",
  regionTypes: ["span"],
  usesLabels: true,
  Component: SpanTool,
};
