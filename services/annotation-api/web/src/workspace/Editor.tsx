import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import type { Project, Task } from "../api/types";
import { buildShortcuts, type Command } from "../editor/keymap";
import { initialRegionState, initialRegions, regionReducer, type EditorRegion } from "../editor/regions";
import type { LabelDef } from "../lib/labels";
import type { ResolvedTools } from "../tools/registry";
import type { EditorApi, LabelAction, LoadedMedia, ToolPlugin, ToolProps } from "../tools/types";
import { ActionBar } from "./ActionBar";
import { ItemView } from "./ItemView";
import { LabelBar } from "./LabelBar";
import { RegionList } from "./RegionList";
import { ShortcutOverlay } from "./ShortcutOverlay";
import type { ActionError } from "./useTaskQueue";
import { useHotkeys } from "./useHotkeys";

export interface EditorProps {
  project: Project;
  task: Task;
  media: LoadedMedia;
  tools: ResolvedTools;
  labels: readonly LabelDef[];
  busy: boolean;
  error: ActionError | null;
  submitted: number;
  onSubmit(regions: readonly EditorRegion[], leadTimeMs: number): void;
  onSkip(): void;
  onNext(): void;
}

/** The labeling screen for one task (mounted per task, so its state starts fresh for each item). */
export function Editor({ project, task, media, tools, labels, busy, error, submitted, onSubmit, onSkip, onNext }: EditorProps) {
  const { schema } = project;
  const [state, dispatch] = useReducer(regionReducer, undefined, () => initialRegionState(initialRegions(task, tools.regionTypes)));
  const [selectedId, select] = useState<string | null>(null);
  const [activeLabel, setActiveLabel] = useState<string | null>(labels[0]?.name ?? null);
  const [helpOpen, setHelpOpen] = useState(false);
  const shownAt = useRef(performance.now());
  const regionsRef = useRef(state.regions);
  regionsRef.current = state.regions;
  const labelActions = useRef(new Set<LabelAction>());

  useEffect(() => {
    shownAt.current = performance.now();
    // Enter must not re-click the button that submitted the previous item
    if (document.activeElement instanceof HTMLElement && document.activeElement !== document.body) document.activeElement.blur();
  }, []);

  const registerLabelAction = useCallback((action: LabelAction) => {
    labelActions.current.add(action);
    return () => void labelActions.current.delete(action);
  }, []);

  const selected = state.regions.find((r) => r.id === selectedId) ?? null;
  const activeTools = useMemo(() => [tools.stage, ...tools.panels].filter((t): t is ToolPlugin => !!t), [tools]);
  const shortcuts = useMemo(() => buildShortcuts({ schema, labels, tools: activeTools }), [schema, labels, activeTools]);
  const invalidIds = useMemo(() => new Set(error?.regionIds ?? []), [error]);

  const applyLabel = (label: string) => {
    setActiveLabel(label);
    for (const action of labelActions.current) if (action(label)) return;
    if (selected && typeof selected.label === "string") dispatch({ type: "update", id: selected.id, patch: { label } });
  };
  const submit = () => onSubmit(state.regions, performance.now() - shownAt.current);
  const editorApi: EditorApi = { regions: () => regionsRef.current, dispatch, select };

  const run = (command: Command) => {
    switch (command.kind) {
      case "label":
        return applyLabel(command.label);
      case "submit":
        return submit();
      case "undo":
      case "redo":
        return dispatch({ type: command.kind });
      case "delete":
        // the selection id is kept: an undo brings the region back selected
        if (selected) dispatch({ type: "remove", id: selected.id });
        return;
      case "escape":
        if (helpOpen) return setHelpOpen(false);
        window.getSelection()?.removeAllRanges();
        return select(null);
      case "help":
        return setHelpOpen((open) => !open);
      case "tool":
        return command.run(editorApi);
    }
  };
  useHotkeys(shortcuts, run);

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
    registerLabelAction,
  };
  const Stage = tools.stage?.Component;

  return (
    <div className="editor">
      <div className="task-bar">
        <span className="muted">Item</span>
        <span className="external-id" data-testid="current-external-id">
          {task.item.external_id ?? task.item.id}
        </span>
        <span className="muted">{submitted > 0 && `${submitted} submitted`}</span>
        <button type="button" className="help-button" onMouseDown={(e) => e.preventDefault()} onClick={() => setHelpOpen((o) => !o)} title="Keyboard shortcuts (?)">
          ?
        </button>
      </div>
      {tools.usesLabels && labels.length > 0 && <LabelBar labels={labels} active={activeLabel} onPick={applyLabel} />}
      {tools.unsupported.length > 0 && <p className="notice">Not available in this UI yet: {tools.unsupported.join(", ")}.</p>}
      <div className="work-area">
        <div className="stage">{Stage ? <Stage {...toolProps} /> : <ItemView task={task} media={media} />}</div>
        <aside className="side">
          {tools.panels.map((p) => (
            <p.Component key={p.name} {...toolProps} />
          ))}
          {tools.stage && (
            <RegionList
              regions={state.regions}
              labels={labels}
              text={media.kind === "text" ? media.text : null}
              selectedId={selected?.id ?? null}
              invalidIds={invalidIds}
              select={select}
              dispatch={dispatch}
            />
          )}
          {schema.guidelines && (
            <details className="guidelines">
              <summary>Guidelines</summary>
              <div className="guidelines-text">{schema.guidelines}</div>
            </details>
          )}
        </aside>
      </div>
      <ActionBar busy={busy} error={error} onSubmit={submit} onSkip={onSkip} onNext={onNext} />
      {helpOpen && <ShortcutOverlay shortcuts={shortcuts} onClose={() => setHelpOpen(false)} />}
    </div>
  );
}
