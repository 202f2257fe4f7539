import { memo, useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import type { Api } from "../api/client";
import type { Comment, Project, Rework, Task } from "../api/types";
import { buildShortcuts, type Command } from "../editor/keymap";
import { initialRegionState, initialRegions, isChoice, regionReducer, withIds, type EditorRegion, type RegionAction } from "../editor/regions";
import { labelsFor, type LabelDef } from "../lib/labels";
import { ImageStage, type StageController } from "../stage/image/ImageStage";
import { TextStage, type TextController } from "../stage/text/TextStage";
import type { ResolvedTools } from "../tools/registry";
import type { EditorApi, LoadedMedia, ToolPlugin, ToolProps } from "../tools/types";
import { ActionBar } from "./ActionBar";
import type { DraftState } from "./drafts";
import { useDraftSaver } from "./drafts";
import { FlagDialog } from "./FlagDialog";
import { ItemView } from "./ItemView";
import { LabelBar } from "./LabelBar";
import { CommentsPanel, type CommentsHandle } from "./panels/Comments";
import { FeedbackPanel } from "./panels/Feedback";
import { GuidelinesPanel } from "./panels/Guidelines";
import { Inspector } from "./panels/Inspector";
import { PrelabelPanel } from "./panels/Prelabels";
import { RegionList } from "./RegionList";
import { ShortcutOverlay } from "./ShortcutOverlay";
import { Toolbar } from "./Toolbar";
import type { ActionError } from "./useTaskQueue";
import { useHotkeys } from "./useHotkeys";

export interface EditorProps {
  api: Api | null;
  project: Project;
  task: Task;
  media: LoadedMedia;
  tools: ResolvedTools;
  labels: readonly LabelDef[];
  draft?: DraftState | null;
  rework?: Rework | null;
  comments?: readonly Comment[];
  error: ActionError | null;
  submitted: number;
  onSubmit(regions: readonly EditorRegion[], leadTimeMs: number): void;
  onSkip(regions: readonly EditorRegion[], leadTimeMs: number): void;
  onNext(): void;
  /** The item is drawn and takes input. */
  onReady?(taskId: string): void;
}

/**
 * The labeling screen for one task (mounted per task, so its state starts fresh for each item; memoized, so
 * the queue's background work does not render it again).
 */
export const Editor = memo(function Editor(props: EditorProps) {
  const { api, project, task, media, tools, labels, draft = null, rework = null, error, submitted, onSubmit, onSkip, onNext } = props;
  const { schema } = project;
  const modality = media.kind === "image" ? "image" : media.kind === "text" ? "text" : schema.modality;
  const [state, dispatch] = useReducer(regionReducer, undefined, () =>
    initialRegionState(
      draft
        ? withIds(draft.regions.filter((r) => tools.regionTypes.has(r.type)))
        : initialRegions(task, tools.regionTypes, undefined, rework?.previous?.result ?? null),
    ),
  );
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [activeLabel, setActiveLabel] = useState<string | null>(labels[0]?.name ?? null);
  const [current, setCurrent] = useState<ToolPlugin | undefined>(tools.initial);
  const [helpOpen, setHelpOpen] = useState(false);
  const [flagOpen, setFlagOpen] = useState(false);
  const [flagged, setFlagged] = useState<string | null>(null);
  const [guidelinesOpen, setGuidelinesOpen] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const [hint, setHint] = useState<string | null>(null);
  const [, setToolVersion] = useState(0);
  const toolStates = useRef(new Map<string, unknown>());
  const shownAt = useRef(performance.now());
  const latest = useRef({ regions: state.regions, selectedId, activeLabel });
  latest.current = { regions: state.regions, selectedId, activeLabel };
  const stage = useRef<StageController | null>(null);
  const text = useRef<TextController | null>(null);
  const commentsRef = useRef<CommentsHandle | null>(null);
  const readyFired = useRef(false);

  const leadTime = useCallback(() => (draft?.leadTimeMs ?? 0) + (performance.now() - shownAt.current), [draft]);
  const drafts = useDraftSaver(api, task.id, state.regions, leadTime);

  useEffect(() => {
    shownAt.current = performance.now();
    // Enter must not re-click the button that submitted the previous item
    if (document.activeElement instanceof HTMLElement && document.activeElement !== document.body) document.activeElement.blur();
  }, []);

  const select = useCallback((id: string | null) => setSelectedId(id), []);
  const editor: EditorApi = useMemo(
    () => ({
      task,
      schema,
      labels,
      api,
      regions: () => latest.current.regions,
      dispatch: (action: RegionAction) => dispatch(action),
      selectedId: () => latest.current.selectedId,
      select,
      activeLabel: () => latest.current.activeLabel,
      toolState: <T,>(tool: string) => toolStates.current.get(tool) as T | undefined,
      setToolState(tool: string, value: unknown) {
        if (value === undefined) toolStates.current.delete(tool);
        else toolStates.current.set(tool, value);
        setToolVersion((v) => v + 1);
      },
      notify: setStatus,
    }),
    [task, schema, labels, api, select],
  );

  const selected = state.regions.find((r) => r.id === selectedId) ?? null;
  const stageTools = tools.stage;
  const imagePlugins = useMemo(() => stageTools.filter((t) => t.image), [stageTools]);
  const textPlugins = useMemo(() => stageTools.filter((t) => t.text), [stageTools]);
  const activeTools = useMemo(() => [...tools.stage, ...tools.panels], [tools]);
  const shortcuts = useMemo(() => buildShortcuts({ schema, modality, labels, tools: activeTools }), [schema, modality, labels, activeTools]);
  const invalidIds = useMemo(() => new Set(error?.regionIds ?? []), [error]);
  const ordered = useMemo(() => state.regions.filter((r) => !isChoice(r)), [state.regions]);

  const applyLabel = (label: string) => {
    setActiveLabel(label);
    if (text.current?.applyLabel(label)) return;
    if (selected && typeof selected.label === "string" && selected.label !== label) {
      const fits = labelsFor(labels, selected.type).some((l) => l.name === label);
      if (fits) dispatch({ type: "update", id: selected.id, patch: { label } });
      else setStatus(`${label} is not a label for ${selected.type} regions.`);
    }
  };
  /** A new drawing tool starts fresh: nothing selected, so a label key picks the label of the next shape. */
  const pickTool = (tool: ToolPlugin) => {
    setCurrent(tool);
    if (tool !== current) select(null);
  };
  const submit = () => {
    drafts.settle();
    onSubmit(latest.current.regions, leadTime());
  };
  const skip = () => {
    drafts.settle();
    onSkip(latest.current.regions, leadTime());
  };
  const cycle = (step: number) => {
    if (ordered.length === 0) return;
    const at = ordered.findIndex((r) => r.id === selectedId);
    const next = at < 0 ? (step > 0 ? 0 : ordered.length - 1) : (at + step + ordered.length) % ordered.length;
    setSelectedId(ordered[next]!.id);
  };

  const run = (command: Command) => {
    switch (command.kind) {
      case "label":
        return applyLabel(command.label);
      case "submit":
        return submit();
      case "skip":
        return skip();
      case "undo":
      case "redo":
        return dispatch({ type: command.kind });
      case "delete":
        // the selection id is kept: an undo brings the region back selected
        if (selected) dispatch({ type: "remove", id: selected.id });
        return;
      case "escape":
        if (helpOpen) return setHelpOpen(false);
        if (flagOpen) return setFlagOpen(false);
        if (stage.current?.cancel()) return;
        if (toolStates.current.size > 0) {
          toolStates.current.clear();
          setToolVersion((v) => v + 1);
          setStatus(null);
          return;
        }
        text.current?.clearSelection();
        setStatus(null);
        return select(null);
      case "help":
        return setHelpOpen((open) => !open);
      case "nextRegion":
        return cycle(1);
      case "previousRegion":
        return cycle(-1);
      case "accept":
        if (selected?._pending) dispatch({ type: "accept", ids: [selected.id] });
        else setStatus("Select a pre-label to accept it.");
        return;
      case "acceptAll":
        return dispatch({ type: "accept", ids: "all" });
      case "reject":
        if (selected?.origin) dispatch({ type: "reject", ids: [selected.id] });
        else setStatus("Select a pre-label to reject it.");
        return;
      case "rejectAll":
        return dispatch({ type: "reject", ids: "all" });
      case "flag":
        return setFlagOpen(true);
      case "comment":
        return commentsRef.current?.focus();
      case "guidelines":
        return setGuidelinesOpen((open) => !open);
      case "selectTool": {
        const tool = stageTools.find((t) => t.name === command.tool);
        if (tool) pickTool(tool);
        return;
      }
      case "view":
        return stage.current?.view(command.op);
      case "text":
        return text.current?.token(command.op);
      case "tool":
        return command.run(editor);
    }
  };
  useHotkeys(shortcuts, run, (e) => stage.current?.intercept(e) ?? false);

  // ready: the stage drew the item's first frame (the benchmark and the queue listen)
  const onReady = props.onReady;
  // the region list, guidelines and comments come a frame after the item: the stage is what is looked at first
  const [settled, setSettled] = useState(false);
  const ready = useCallback(() => {
    if (readyFired.current) return;
    readyFired.current = true;
    onReady?.(task.id);
    requestAnimationFrame(() => setSettled(true));
  }, [onReady, task.id]);
  useEffect(() => {
    if (media.kind !== "image" && media.kind !== "text") ready();
  }, [media.kind, ready]);

  const toolProps: ToolProps = {
    task,
    schema,
    labels,
    media,
    regions: state.regions,
    dispatch,
    selectedId: selected?.id ?? null,
    select,
    activeLabel,
    invalidIds,
    editor,
  };
  const myError = error && error.taskId === task.id ? error : null;
  const prelabels = state.regions.filter((r) => r.origin);

  let stageView;
  if (media.kind === "image" && imagePlugins.length > 0) {
    stageView = (
      <ImageStage
        task={task}
        media={media}
        plugins={imagePlugins}
        current={current}
        regions={state.regions}
        selectedId={selected?.id ?? null}
        labels={labels}
        invalidIds={invalidIds}
        editor={editor}
        controller={stage}
        onReady={ready}
        onHint={setHint}
      />
    );
  } else if (media.kind === "text") {
    stageView = (
      <TextStage
        text={media.text}
        plugins={textPlugins}
        current={current}
        regions={state.regions}
        labels={labels}
        selectedId={selected?.id ?? null}
        invalidIds={invalidIds}
        editor={editor}
        controller={text}
        onReady={ready}
      />
    );
  } else stageView = <ItemView task={task} media={media} onReady={ready} stage={stageTools.find((t) => t.Stage && t.modalities.includes(schema.modality))} toolProps={toolProps} />;

  return (
    <div className="editor" data-task-id={task.id}>
      <div className="task-bar">
        <span className="muted">Item</span>
        <span className="external-id" data-testid="current-external-id">
          {task.item.external_id ?? task.item.id}
        </span>
        {(task.round ?? 1) > 1 && <span className="badge">round {task.round}</span>}
        {draft && (
          <span className="badge" data-testid="draft-restored" title={`saved ${new Date(draft.savedAt).toLocaleString()}`}>
            draft restored
          </span>
        )}
        {flagged && (
          <span className="badge warn" data-testid="flagged" title={flagged}>
            flagged
          </span>
        )}
        <span className="muted">{submitted > 0 && `${submitted} submitted`}</span>
        <span className="status" data-testid="status" role="status">
          {status ?? hint}
        </span>
        <button type="button" className="help-button" onMouseDown={(e) => e.preventDefault()} onClick={() => setHelpOpen((o) => !o)} title="Keyboard shortcuts (?)">
          ?
        </button>
      </div>
      <Toolbar
        tools={stageTools}
        current={current}
        shortcuts={shortcuts}
        onPick={pickTool}
        zoom={media.kind === "image" ? (op) => stage.current?.view(op) : null}
        labels={tools.usesLabels && labels.length > 0 ? <LabelBar labels={current && current.usesLabels ? labelsFor(labels, current.name) : labels} active={activeLabel} onPick={applyLabel} /> : null}
      />
      {tools.unsupported.length > 0 && <p className="notice">Not available in this UI yet: {tools.unsupported.join(", ")}.</p>}
      <div className="work-area">
        <div className="stage">{stageView}</div>
        <aside className="side">
          {(task.feedback || rework?.feedback) && <FeedbackPanel task={task} rework={rework} labels={labels} regions={state.regions} />}
          {prelabels.length > 0 && <PrelabelPanel regions={prelabels} dispatch={dispatch} />}
          {selected && <Inspector region={selected} schema={schema} labels={labels} dispatch={dispatch} editor={editor} />}
          {tools.panels.map((p) => p.Component && <p.Component key={p.name} {...toolProps} />)}
          {settled && stageTools.length > 0 && (
            <RegionList
              regions={ordered}
              tools={activeTools}
              labels={labels}
              text={media.kind === "text" ? media.text : null}
              selectedId={selected?.id ?? null}
              invalidIds={invalidIds}
              select={select}
              dispatch={dispatch}
            />
          )}
          {settled && schema.guidelines && <GuidelinesPanel markdown={schema.guidelines} labels={labels} open={guidelinesOpen} onToggle={setGuidelinesOpen} />}
          {settled && api && <CommentsPanel ref={commentsRef} api={api} taskId={task.id} initial={props.comments ?? []} />}
        </aside>
      </div>
      <ActionBar busy={false} error={myError} onSubmit={submit} onSkip={skip} onFlag={api ? () => setFlagOpen(true) : null} onNext={onNext} />
      {helpOpen && <ShortcutOverlay shortcuts={shortcuts} onClose={() => setHelpOpen(false)} />}
      {flagOpen && api && (
        <FlagDialog
          api={api}
          taskId={task.id}
          onClose={() => setFlagOpen(false)}
          onFlagged={(reason) => {
            setFlagged(reason);
            setFlagOpen(false);
            setStatus("Flagged as ambiguous. Submit or skip it as usual.");
          }}
        />
      )}
    </div>
  );
});
