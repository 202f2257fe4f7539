import { describe, expect, it } from "vitest";
import { TOOLS, getTool, resolveTools } from "./registry";
import type { ToolPlugin } from "./types";

describe("tool registry", () => {
  it("lists bbox, span and choice once each, with well-formed plugins", () => {
    const names = TOOLS.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["bbox", "span", "choice"]));
    expect(new Set(names).size).toBe(names.length);
    for (const tool of TOOLS) {
      expect(tool.regionTypes.length).toBeGreaterThan(0);
      expect(tool.modalities.length).toBeGreaterThan(0);
      expect(typeof tool.Component).toBe("function");
    }
    expect(getTool("span")?.placement).toBe("stage");
    expect(getTool("nope")).toBeUndefined();
  });

  it("picks the image stage tool and panels from schema.tools", () => {
    const r = resolveTools({ modality: "image", tools: ["bbox", "choice"] });
    expect(r.stage?.name).toBe("bbox");
    expect(r.panels.map((t) => t.name)).toEqual(["choice"]);
    expect([...r.regionTypes].sort()).toEqual(["bbox", "choice"]);
    expect(r.usesLabels).toBe(true);
    expect(r.unsupported).toEqual([]);
  });

  it("reports unknown tools and tools that do not fit the modality", () => {
    const r = resolveTools({ modality: "text", tools: ["span", "polygon", "bbox", "span"] });
    expect(r.stage?.name).toBe("span");
    expect(r.unsupported).toEqual(["polygon", "bbox"]);
  });

  it("works without a stage tool", () => {
    const r = resolveTools({ modality: "text", tools: ["choice"] });
    expect(r.stage).toBeUndefined();
    expect(r.usesLabels).toBe(false);
    expect(resolveTools({ modality: "image" }).panels).toEqual([]);
  });

  it("accepts another registry (plugins are plain objects)", () => {
    const fake: ToolPlugin = { ...TOOLS[0]!, name: "fake", modalities: ["audio"], placement: "panel", regionTypes: ["fake"] };
    expect(resolveTools({ modality: "audio", tools: ["fake"] }, [fake]).panels).toEqual([fake]);
  });
});
