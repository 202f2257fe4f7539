import { describe, expect, it } from "vitest";
import { TOOLS, getTool, resolveTools } from "./registry";
import type { ToolPlugin } from "./types";

describe("tool registry", () => {
  it("lists every tool once, each a well-formed plugin", () => {
    const names = TOOLS.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["bbox", "polygon", "polyline", "keypoints", "mask", "span", "relation", "choice"]));
    expect(new Set(names).size).toBe(names.length);
    for (const tool of TOOLS) {
      expect(tool.modalities.length).toBeGreaterThan(0);
      if (tool.placement === "panel") expect(typeof tool.Component).toBe("function");
      else expect(tool.image ?? tool.text ?? tool.Stage).toBeTruthy();
      if (tool.modalities.includes("image") && tool.placement === "stage") expect(tool.image).toBeTruthy();
    }
    expect(getTool("span")?.placement).toBe("stage");
    expect(getTool("nope")).toBeUndefined();
  });

  it("picks the image stage tools and panels from schema.tools, with the tools they imply", () => {
    const r = resolveTools({ modality: "image", tools: ["bbox", "polygon", "choice"] });
    expect(r.stage.map((t) => t.name)).toEqual(["bbox", "polygon", "assist"]);
    expect(r.initial?.name).toBe("bbox");
    expect(r.panels.map((t) => t.name)).toEqual(["choice"]);
    expect([...r.regionTypes].sort()).toEqual(["bbox", "choice", "polygon"]);
    expect(r.usesLabels).toBe(true);
    expect(r.unsupported).toEqual([]);
  });

  it("reports unknown tools and tools that do not fit the modality", () => {
    const r = resolveTools({ modality: "text", tools: ["span", "polygon", "bbox", "span", "relation"] });
    expect(r.stage.map((t) => t.name)).toEqual(["span", "relation"]);
    expect(r.initial?.name).toBe("span");
    expect(r.unsupported).toEqual(["polygon", "bbox"]);
  });

  it("works without a stage tool", () => {
    const r = resolveTools({ modality: "text", tools: ["choice"] });
    expect(r.stage).toEqual([]);
    expect(r.initial).toBeUndefined();
    expect(r.usesLabels).toBe(false);
    expect(resolveTools({ modality: "image" }).panels).toEqual([]);
  });

  it("accepts another registry (plugins are plain objects)", () => {
    const fake: ToolPlugin = { ...TOOLS[0]!, name: "fake", modalities: ["audio"], placement: "panel", regionTypes: ["fake"] };
    expect(resolveTools({ modality: "audio", tools: ["fake"] }, [fake]).panels).toEqual([fake]);
  });
});
