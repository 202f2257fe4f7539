// Video box tracks: drag on the frame to start a track, drag its box at another frame to add a keyframe;
// boxes between keyframes are interpolated linearly. The stage is stage/video.
import { controllerOf } from "../../stage/audio/controller";
import { VideoStage } from "../../stage/video/VideoStage";
import type { ToolPlugin, ToolShortcut } from "../types";
import { isTrack } from "./tracks";

export const trackTool: ToolPlugin = {
  name: "track",
  title: "Video tracks",
  modalities: ["video"],
  placement: "stage",
  regionTypes: ["track"],
  usesLabels: true,
  hint: "drag a box; move it at another frame to add a keyframe",
  Stage: VideoStage,
  shortcuts(env) {
    const k = env.letter("k");
    const kShift = env.letter("k", true);
    const n = env.letter("n");
    const nShift = env.letter("n", true);
    const o = env.letter("o");
    const list: ToolShortcut[] = [
      { keys: "Space", combo: { key: " " }, description: "Play or pause", run: (e) => controllerOf(e)?.togglePlay() },
      { keys: "ArrowRight", combo: { key: "ArrowRight", shift: false }, description: "Next frame", repeat: true, run: (e) => controllerOf(e)?.step(1) },
      { keys: "ArrowLeft", combo: { key: "ArrowLeft", shift: false }, description: "Previous frame", repeat: true, run: (e) => controllerOf(e)?.step(-1) },
      { keys: "Shift+ArrowRight", combo: { key: "ArrowRight", shift: true }, description: "10 frames forward", repeat: true, run: (e) => controllerOf(e)?.step(10) },
      { keys: "Shift+ArrowLeft", combo: { key: "ArrowLeft", shift: true }, description: "10 frames back", repeat: true, run: (e) => controllerOf(e)?.step(-10) },
      { keys: k.keys, combo: k.combo, description: "Add a keyframe to the selected track at this frame", run: (e) => controllerOf(e)?.keyframe?.("add") },
      { keys: kShift.keys, combo: kShift.combo, description: "Remove the selected track's keyframe at this frame", run: (e) => controllerOf(e)?.keyframe?.("remove") },
      { keys: n.keys, combo: n.combo, description: "Jump to the next keyframe", run: (e) => controllerOf(e)?.keyframe?.("next") },
      { keys: nShift.keys, combo: nShift.combo, description: "Jump to the previous keyframe", run: (e) => controllerOf(e)?.keyframe?.("previous") },
      { keys: o.keys, combo: o.combo, description: "Toggle occluded at this frame", run: (e) => controllerOf(e)?.keyframe?.("toggle:occluded") },
    ];
    return list;
  },
  describe: (r) => (isTrack(r) ? `#${String(r.track_id)}, keyframes ${r.keyframes.map((k) => k.frame).join(", ")}` : r.type),
};
