// The contract between the workspace and an annotation tool. Tools are registered in tools/registry.ts.
//
// A "stage" tool works on the item itself: on images through `image` (drawing, hit testing, editing and a
// drawing session on the shared canvas), on texts through `text` (marks, regions from a selection, overlays).
// Several stage tools can be active; one of them is the current drawing tool (its key switches to it).
// A "panel" tool is a side panel (`Component`).
import type { ComponentType } from "react";
import type { Api } from "../api/client";
import type { Modality, Region, Schema, Task } from "../api/types";
import type { EditorRegion, RegionAction } from "../editor/regions";
import type { Box, Point, Size } from "../lib/geometry";
import type { KeyCombo } from "../lib/keys";
import type { LabelDef } from "../lib/labels";
import type { DecodedAudio } from "../stage/audio/decode";

/** One level of the image pyramid: the decoded image, or a smaller copy of it for zoomed-out views. */
export interface ImageLevel {
  source: CanvasImageSource;
  width: number;
  height: number;
}

/** The item, loaded and decoded before it is shown. */
export type LoadedMedia =
  | { kind: "image"; url: string; width: number; height: number; levels: readonly ImageLevel[] }
  | { kind: "text"; text: string }
  /** Audio and video: the fetched bytes behind an object URL; audio is decoded (peaks) while the item waits. */
  | { kind: "audio" | "video"; url: string; blob: Blob; decoded?: Promise<DecodedAudio> }
  | { kind: "none" };

/** What tools and shortcuts may do to the editor. */
export interface EditorApi {
  readonly task: Task;
  readonly schema: Schema;
  readonly labels: readonly LabelDef[];
  readonly api: Api | null;
  regions(): readonly EditorRegion[];
  dispatch(action: RegionAction): void;
  selectedId(): string | null;
  select(id: string | null): void;
  activeLabel(): string | null;
  /** Per-tool state that overlays draw (e.g. the region a relation starts from). */
  toolState<T>(tool: string): T | undefined;
  setToolState(tool: string, value: unknown): void;
  /** A line in the status bar (null clears it). */
  notify(message: string | null): void;
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
  editor: EditorApi;
}

// -- image stage -------------------------------------------------------------------------------------

/** Canvas drawing in screen space: sx/sy map image pixels to canvas CSS pixels. */
export interface Draw {
  ctx: CanvasRenderingContext2D;
  /** Canvas CSS pixels per image pixel. */
  scale: number;
  sx(x: number): number;
  sy(y: number): number;
  /** The visible part of the image, in image pixels. */
  visible: Box;
}

export interface Look {
  color: string;
  /** The region's label definition (keypoint names, skeleton), when the schema has it. */
  def?: LabelDef | undefined;
  selected: boolean;
  /** A pre-label nobody has accepted yet: drawn dashed. */
  pending: boolean;
  invalid: boolean;
}

export interface PointerInfo {
  shift: boolean;
  alt: boolean;
  /** 2 for the second click of a double click. */
  clicks: number;
}

export interface SessionContext {
  image: Size;
  editor: EditorApi;
  /** Image pixels covered by `px` screen pixels at the current zoom. */
  tolerance(px: number): number;
  /** The topmost region under p (image pixels), if any. */
  hitTest(p: Point): EditorRegion | null;
  /** Select the region under p, or deselect. */
  selectAt(p: Point): void;
  redraw(): void;
}

/** The current tool's drawing state on the canvas (one per tool while it is current). */
export interface DrawSession {
  /**
   * Mouse button down on the image (left button, not panning). "select": the stage selects the region under
   * the pointer instead; "consume": the session handles the gesture.
   */
  down(p: Point, e: PointerInfo, hit: EditorRegion | null): "select" | "consume";
  /** The pointer moved (button down or not). */
  move(p: Point, e: PointerInfo): void;
  up(p: Point, e: PointerInfo): void;
  /** A key while this session is busy (Enter, Escape, Backspace...): true when used. */
  key?(e: KeyboardEvent): boolean;
  drawPreview?(d: Draw): void;
  /** True while a shape is half drawn: keys go to the session first. */
  busy(): boolean;
  cancel(): void;
  hint?(): string | null;
  cursor?: string;
}

export interface ImageToolSpec {
  /** Box of a region of this tool's types in image pixels (culling, hit prefilter, labels, relation ends). */
  bounds(r: EditorRegion): Box | null;
  /** `ends` gives the box of another region (relations draw between their ends). */
  draw(d: Draw, r: EditorRegion, look: Look, ends: (id: string) => Box | null): void;
  /** Whether p (image pixels) is on the region, with tolerance tol (image pixels). */
  hit(r: EditorRegion, p: Point, tol: number, ends: (id: string) => Box | null): boolean;
  /** Points of the selected region that can be dragged. */
  handles?(r: EditorRegion): Point[];
  moveHandle?(r: EditorRegion, index: number, p: Point, image: Size): Partial<Region> | null;
  translate?(r: EditorRegion, dx: number, dy: number, image: Size): Partial<Region>;
  session?(ctx: SessionContext): DrawSession;
  /** Drawn after every region, with the editor's tool state (e.g. a relation being linked). */
  drawOverlay?(d: Draw, editor: EditorApi, ends: (id: string) => Box | null): void;
}

// -- text stage --------------------------------------------------------------------------------------

export interface TextOverlayProps {
  regions: readonly EditorRegion[];
  labels: readonly LabelDef[];
  selectedId: string | null;
  editor: EditorApi;
  /** The first rendered mark element of a region (null when it is scrolled out of the rendered window). */
  markOf(id: string): HTMLElement | null;
  /** The element the overlay is positioned in (its scroll content), once it is in the page. */
  container(): HTMLElement | null;
  /** Changes whenever the rendered window or the marks change. */
  layoutVersion: number;
}

export interface TextToolSpec {
  /** The code-point range a region of this tool marks in the text. */
  mark?(r: EditorRegion): { start: number; end: number } | null;
  /** A new region from a selected code-point range and a label, or null when this tool does not make one. */
  fromSelection?(range: { start: number; end: number }, label: string, editor: EditorApi): EditorRegion | null;
  Overlay?: ComponentType<TextOverlayProps>;
  /** A click on a region's mark while this is the current tool: true when the tool used it. */
  onRegionClick?(r: EditorRegion, editor: EditorApi): boolean;
}

export interface DescribeContext {
  /** The item's text (text items). */
  text: string | null;
  /** How another region is described (relations name their ends). */
  describeId(id: string): string;
}

// -- the plugin --------------------------------------------------------------------------------------

export interface ToolShortcut {
  /** As shown in the shortcut overlay, e.g. "Shift+1". */
  keys: string;
  combo: KeyCombo;
  description: string;
  repeat?: boolean;
  run(editor: EditorApi): void;
}

export interface ShortcutEnv {
  schema: Schema;
  /** Keys already taken by the workspace (label hotkeys and built-ins), lower case. */
  reservedKeys: ReadonlySet<string>;
  /** A letter key for this tool: the letter when free, else Alt+letter. */
  letter(ch: string, shift?: boolean): { keys: string; combo: KeyCombo };
}

export interface ToolPlugin {
  /** The name used in `schema.tools`. */
  readonly name: string;
  readonly title: string;
  readonly modalities: readonly Modality[];
  readonly placement: "stage" | "panel";
  /** Region types this tool creates and edits (`type` in the result). */
  readonly regionTypes: readonly string[];
  /** Whether label hotkeys and the label bar matter for this tool. */
  readonly usesLabels: boolean;
  /** Stage tools: the letter that makes this the current drawing tool. */
  readonly key?: string;
  /** One line on how to use it (toolbar tooltip and shortcut overlay). */
  readonly hint?: string;
  /** Also active, without being named in schema.tools, when the schema names one of these tools. */
  readonly implied?: readonly string[];
  /** False for stage tools that add to others and are never the current drawing tool by default. */
  readonly drawsByDefault?: boolean;
  readonly image?: ImageToolSpec;
  readonly text?: TextToolSpec;
  /** Panel tools: the side panel. */
  readonly Component?: ComponentType<ToolProps>;
  /** Audio and video stage tools: the component that shows the item and edits its regions (see ItemView). */
  readonly Stage?: ComponentType<ToolProps & { onReady?(): void }>;
  shortcuts?(env: ShortcutEnv): ToolShortcut[];
  /** A short description of a region for the region list. */
  describe?(r: EditorRegion, context: DescribeContext): string;
}
