import { describe, expect, it } from "vitest";
import { CONNECTABLE, describeMetrics } from "./tabs/ModelsTab";

describe("models tab", () => {
  it("describes a trained version's held-out figures against what it was compared with", () => {
    const metrics = { metric: "accuracy", candidate: { accuracy: 0.912 }, incumbent: { accuracy: 0.5 }, incumbent_kind: "majority_baseline" };
    expect(describeMetrics(metrics)).toBe("accuracy 0.912 vs 0.500 (majority baseline)");
    expect(describeMetrics({ metric: "box_f1", candidate: { box_f1: 0.81 }, incumbent: { box_f1: 0 }, incumbent_kind: "no_boxes_baseline" })).toBe(
      "box f1 0.810 vs 0.000 (no boxes baseline)",
    );
    expect(describeMetrics({})).toBe(""); // a connected model has none
  });

  it("offers the built-in voice activity model to audio projects only, and asks remote models for an address", () => {
    const forModality = (m: string) => CONNECTABLE.filter((c) => !c.modalities || c.modalities.includes(m)).map((c) => c.plugin);
    expect(forModality("audio")).toEqual(["audio-energy-vad"]);
    expect(forModality("text")).toEqual(["ls-ml-backend", "openai-chat"]);
    expect(forModality("image")).toEqual(["ls-ml-backend"]);
    expect(forModality("video")).toEqual([]);
    expect(CONNECTABLE.filter((c) => c.needsUrl).map((c) => c.plugin)).toEqual(["ls-ml-backend", "openai-chat"]);
  });
});
