// Audio segments: drag on the waveform to make a labeled segment, drag its edges to resize, type its transcript.
// Space plays or pauses, P plays the selected segment, = / - zoom, arrows seek. The stage is stage/audio.
import { AudioStage } from "../../stage/audio/AudioStage";
import { controllerOf } from "../../stage/audio/controller";
import type { ToolPlugin, ToolShortcut } from "../types";
import { formatTime, isSegment } from "./segments";

export const segmentTool: ToolPlugin = {
  name: "segment",
  title: "Audio segments",
  modalities: ["audio"],
  placement: "stage",
  regionTypes: ["segment"],
  usesLabels: true,
  hint: "drag on the waveform, then type the transcript",
  Stage: AudioStage,
  shortcuts(env) {
    const p = env.letter("p");
    const list: ToolShortcut[] = [
      { keys: "Space", combo: { key: " " }, description: "Play or pause", run: (e) => controllerOf(e)?.togglePlay() },
      { keys: p.keys, combo: p.combo, description: "Play the selected segment", run: (e) => controllerOf(e)?.playSelected?.() },
      { keys: "=", combo: { key: "=" }, description: "Zoom in", repeat: true, run: (e) => controllerOf(e)?.zoom?.(1.5) },
      { keys: "-", combo: { key: "-" }, description: "Zoom out", repeat: true, run: (e) => controllerOf(e)?.zoom?.(1 / 1.5) },
      { keys: "ArrowRight", combo: { key: "ArrowRight", shift: false }, description: "Seek 1 s forward", repeat: true, run: (e) => controllerOf(e)?.step(1) },
      { keys: "ArrowLeft", combo: { key: "ArrowLeft", shift: false }, description: "Seek 1 s back", repeat: true, run: (e) => controllerOf(e)?.step(-1) },
    ];
    return list;
  },
  describe: (r) => (isSegment(r) ? `${formatTime(r.start)}–${formatTime(r.end)}${r.text ? ` “${r.text}”` : ""}` : r.type),
};
