// The contract between the workspace and an annotation tool. Tools are registered in tools/registry.ts.
import type { ComponentType } from "react";
import type { Modality, Schema, Task } from "../api/types";
import type { EditorRegion, RegionAction } from "../editor/regions";
import type { KeyCombo } from "../lib/keys";
import type { LabelDef } from "../lib/labels";

/** The item, loaded and decoded before it is shown. */
export type LoadedMedia =
  | { kind: "image"; url: string; width: number; height: number }
  | { kind: "text"; text: string }
  | { kind: "none" };

/** Applies a label to whatever the tool has pending (e.g. a text selection); true when it used the label. */
export type LabelAction = (label: string) => boolean;

/** What a shortcut may do to the editor. */
export interface EditorApi {
  regions(): readonly EditorRegion[];
  dispatch(action: RegionAction): void;
  select(id: string | null): void;
}

export interface ToolProps {
  task: Task;
  schema: Schema;
  labels: readonly LabelDef[];
  media: LoadedMedia;
  regions: readonly EditorRegion[];
  dispatch(action: RegionAction): void;
  selectedId: string | null;
  select(id: string | null): void;
  /** The label new regions get (the last one chosen by hotkey or click). */
  activeLabel: string | null;
  /** Regions the server's last 422 pointed at. */
  invalidIds: ReadonlySet<string>;
  /** Register a label action for as long as the tool is mounted; returns the unregister function. */
  registerLabelAction(action: LabelAction): () => void;
}

export interface ToolShortcut {
  /** As shown in the shortcut overlay, e.g. "Shift+1". */
  keys: string;
  combo: KeyCombo;
  description: string;
  run(editor: EditorApi): void;
}

export interface ShortcutEnv {
  schema: Schema;
  /** Keys already taken by the workspace (label hotkeys and built-ins), lower case. */
  reservedKeys: ReadonlySet<string>;
}

export interface ToolPlugin {
  /** The name used in `schema.tools`. */
  readonly name: string;
  readonly title: string;
  readonly modalities: readonly Modality[];
  /** "stage": draws on the item itself (at most one per workspace); "panel": a side panel next to it. */
  readonly placement: "stage" | "panel";
  /** Region types this tool creates and edits (`type` in the result). */
  readonly regionTypes: readonly string[];
  /** Whether label hotkeys and the label bar matter for this tool. */
  readonly usesLabels: boolean;
  readonly Component: ComponentType<ToolProps>;
  shortcuts?(env: ShortcutEnv): ToolShortcut[];
}
