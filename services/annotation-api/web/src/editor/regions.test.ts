import { describe, expect, it } from "vitest";
import type { EditorRegion, RegionAction, RegionState } from "./regions";
import { HISTORY_LIMIT, initialRegionState, initialRegions, isBbox, regionReducer, toResult, withIds } from "./regions";

const box = (id: string, label = "cat"): EditorRegion => ({ type: "bbox", id, label, x: 1, y: 2, w: 3, h: 4 });
const run = (state: RegionState, ...actions: RegionAction[]) => actions.reduce(regionReducer, state);

describe("region reducer", () => {
  it("adds, updates and removes regions", () => {
    let s = run(initialRegionState(), { type: "add", region: box("a") }, { type: "add", region: box("b") });
    expect(s.regions.map((r) => r.id)).toEqual(["a", "b"]);
    s = run(s, { type: "update", id: "a", patch: { label: "dog" } });
    expect(s.regions[0]?.label).toBe("dog");
    s = run(s, { type: "remove", id: "b" });
    expect(s.regions.map((r) => r.id)).toEqual(["a"]);
  });

  it("undoes and redoes step by step", () => {
    const s = run(
      initialRegionState(),
      { type: "add", region: box("a") },
      { type: "update", id: "a", patch: { x: 50 } },
      { type: "remove", id: "a" },
    );
    expect(s.regions).toEqual([]);
    const u1 = regionReducer(s, { type: "undo" });
    expect(u1.regions[0]?.x).toBe(50);
    const u2 = regionReducer(u1, { type: "undo" });
    expect(u2.regions[0]?.x).toBe(1);
    const u3 = run(u2, { type: "undo" }, { type: "undo" });
    expect(u3.regions).toEqual([]);
    expect(u3.past).toEqual([]);
    const r1 = regionReducer(u3, { type: "redo" });
    expect(r1.regions.map((r) => r.id)).toEqual(["a"]);
    // a new change drops the redo stack
    const changed = regionReducer(r1, { type: "add", region: box("z") });
    expect(changed.future).toEqual([]);
  });

  it("does not record no-op changes", () => {
    const s = run(initialRegionState([box("a")]), { type: "update", id: "a", patch: { label: "cat" } }, { type: "remove", id: "nope" }, { type: "update", id: "nope", patch: { x: 1 } });
    expect(s.past).toEqual([]);
    expect(run(s, { type: "add", region: box("a", "x") }).past).toEqual([]);
  });

  it("reset replaces regions and clears history", () => {
    const s = run(initialRegionState(), { type: "add", region: box("a") }, { type: "reset", regions: [box("b")] });
    expect(s.regions.map((r) => r.id)).toEqual(["b"]);
    expect(regionReducer(s, { type: "undo" })).toBe(s);
  });

  it("sets, changes and clears a choice group as one region", () => {
    let s = run(initialRegionState(), { type: "setChoice", id: "c1", name: "sentiment", value: "positive" });
    expect(s.regions).toEqual([{ type: "choice", id: "c1", name: "sentiment", value: "positive" }]);
    s = run(s, { type: "setChoice", id: "c2", name: "sentiment", value: "negative" });
    expect(s.regions).toEqual([{ type: "choice", id: "c1", name: "sentiment", value: "negative" }]);
    s = run(s, { type: "setChoice", id: "c3", name: "tags", value: ["a", "b"] }, { type: "setChoice", id: "c4", name: "tags", value: [] });
    expect(s.regions.map((r) => r.name)).toEqual(["sentiment"]);
    s = run(s, { type: "undo" });
    expect(s.regions.find((r) => r.name === "tags")?.value).toEqual(["a", "b"]);
  });

  it("bounds the history", () => {
    let s = initialRegionState();
    for (let i = 0; i < HISTORY_LIMIT + 20; i++) s = regionReducer(s, { type: "add", region: box(`b${i}`) });
    expect(s.past.length).toBe(HISTORY_LIMIT);
  });
});

describe("initial regions", () => {
  const allowed = new Set(["bbox", "choice"]);
  let n = 0;
  const ids = () => `gen${++n}`;

  it("loads the best prediction as pending pre-labels with their origin and score", () => {
    const regions = initialRegions(
      {
        predictions: [
          { model_version: "m1", score: 0.2, result: [box("low")] },
          { model_version: "m2", score: 0.9, result: [{ type: "bbox", label: "dog", x: 5, y: 5, w: 10, h: 10, score: 0.8 }, { type: "polygon", label: "x", points: [] }] },
        ],
      },
      allowed,
      ids,
    );
    expect(regions).toHaveLength(1);
    expect(regions[0]).toMatchObject({ type: "bbox", label: "dog", id: "gen1", score: 0.8, _pending: true, origin: { model_version: "m2", edited: false } });
    expect(isBbox(regions[0]!)).toBe(true);
    // the submission keeps the origin, not the score or the editor's flags
    expect(toResult(regions)).toEqual([{ type: "bbox", label: "dog", x: 5, y: 5, w: 10, h: 10, id: "gen1", origin: { model_version: "m2", edited: false } }]);
  });

  it("accepts, edits and rejects pre-labels; removing a region removes its relations", () => {
    const start = initialRegions({ predictions: [{ model_version: "m", score: 0.5, result: [box("a"), box("b"), box("c")] }] }, new Set(["bbox", "relation"]), ids);
    let s = initialRegionState([...start, { type: "relation", id: "rel", label: "near", from: "a", to: "c" }]);
    s = regionReducer(s, { type: "accept", ids: ["a"] });
    expect(s.regions.find((r) => r.id === "a")?._pending).toBeUndefined();
    s = regionReducer(s, { type: "update", id: "b", patch: { x: 9 } });
    expect(s.regions.find((r) => r.id === "b")).toMatchObject({ origin: { model_version: "m", edited: true } });
    expect(s.regions.find((r) => r.id === "b")?._pending).toBeUndefined();
    s = regionReducer(s, { type: "reject", ids: "all" }); // only c is still pending
    expect(s.regions.map((r) => r.id)).toEqual(["a", "b"]);
    s = regionReducer(s, { type: "undo" });
    expect(s.regions.map((r) => r.id)).toEqual(["a", "b", "c", "rel"]);
    s = regionReducer(s, { type: "remove", id: "a" });
    expect(s.regions.map((r) => r.id)).toEqual(["b", "c"]);
  });

  it("starts from a rejected round's annotation when there is no result", () => {
    const regions = initialRegions({ predictions: [{ score: 1, result: [box("p")] }] }, allowed, ids, [box("previous")]);
    expect(regions.map((r) => r.id)).toEqual(["previous"]);
    expect(regions[0]?._pending).toBeUndefined();
  });

  it("prefers a saved result and keeps existing ids", () => {
    const regions = initialRegions({ result: [box("saved")], predictions: [{ score: 1, result: [box("p")] }] }, allowed, ids);
    expect(regions.map((r) => r.id)).toEqual(["saved"]);
    expect(withIds([{ type: "choice", name: "a", value: "b" }], () => "x")[0]?.id).toBe("x");
  });
});
