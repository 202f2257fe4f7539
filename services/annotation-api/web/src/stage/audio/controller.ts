// What keyboard shortcuts can ask of the audio or video stage mounted for an editor (one per task).
import type { EditorApi } from "../../tools/types";

export interface MediaController {
  togglePlay(): void;
  /** Audio: play the selected segment. Video: unused. */
  playSelected?(): void;
  zoom?(factor: number): void;
  /** Seconds (audio) or frames (video). */
  step(amount: number): void;
  /** Video: add or update the selected track's keyframe at the current frame; jump between keyframes. */
  keyframe?(op: "add" | "remove" | "next" | "previous" | "toggle:occluded"): void;
}

const controllers = new WeakMap<EditorApi, MediaController>();

export function registerController(editor: EditorApi, controller: MediaController | null): void {
  if (controller) controllers.set(editor, controller);
  else controllers.delete(editor);
}

export function controllerOf(editor: EditorApi): MediaController | undefined {
  return controllers.get(editor);
}
