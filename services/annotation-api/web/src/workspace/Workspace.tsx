import { useCallback, useMemo } from "react";
import type { Api } from "../api/client";
import type { Project } from "../api/types";
import { resolveLabels } from "../lib/labels";
import { resolveTools } from "../tools/registry";
import { Editor } from "./Editor";
import { NothingLeft } from "./NothingLeft";
import { useHeartbeat } from "./useHeartbeat";
import { useTaskQueue } from "./useTaskQueue";

interface Props {
  api: Api;
  project: Project;
  onExit(): void;
}

/** Fired on window when an item is drawn and takes input (the UI benchmark listens for it). */
export const ITEM_READY = "annotary:item-ready";

/** One project's labeling loop: the current task and the next ones pre-leased and decoded, submit, next. */
export function Workspace({ api, project, onExit }: Props) {
  const tools = useMemo(() => resolveTools(project.schema), [project.schema]);
  // label hotkeys only matter when a tool uses labels; otherwise the digits are free for choices
  const labels = useMemo(
    () => resolveLabels(project.schema).map((l) => (tools.usesLabels ? l : { ...l, hotkey: null })),
    [project.schema, tools],
  );
  const queue = useTaskQueue(api, project.id);
  const { state, error } = queue;
  useHeartbeat(api, queue.held);
  const { markReady } = queue;
  const onReady = useCallback(
    (taskId: string) => {
      window.dispatchEvent(new CustomEvent(ITEM_READY, { detail: { taskId, at: performance.now() } }));
      markReady(taskId);
    },
    [markReady],
  );

  const current = state.phase === "ready" ? state.item.task.id : null;
  const elsewhere = error && error.taskId !== current && (
    <div className="error-panel banner" role="alert" data-testid="error">
      <strong>A submission was not accepted:</strong> {error.detail}
    </div>
  );

  switch (state.phase) {
    case "loading":
      return (
        <>
          {elsewhere}
          <p className="notice" data-testid="loading">
            Loading the next item…
          </p>
        </>
      );
    case "empty":
      return (
        <>
          {elsewhere}
          <NothingLeft projectName={project.name} submitted={queue.submitted} reason={state.reason} onRetry={queue.retry} onExit={onExit} />
        </>
      );
    case "failed":
      return (
        <div className="notice" role="alert" data-testid="load-error">
          Could not load the next task: {state.message} <button onClick={queue.retry}>Retry</button>
        </div>
      );
    case "ready": {
      const { item } = state;
      if (item.loadError)
        return (
          <div className="notice" role="alert" data-testid="load-error">
            {item.loadError}{" "}
            <button type="button" data-testid="skip" onClick={() => queue.skip([], 0)}>
              Skip this item
            </button>
          </div>
        );
      return (
        <>
          {elsewhere}
          <Editor
            key={`${item.task.id}:${item.generation}`}
            api={api}
            project={project}
            task={item.task}
            media={item.media}
            tools={tools}
            labels={labels}
            draft={item.draft}
            rework={item.rework}
            comments={item.comments}
            error={error}
            submitted={queue.submitted}
            onSubmit={queue.submit}
            onSkip={queue.skip}
            onNext={queue.retry}
            onReady={onReady}
          />
        </>
      );
    }
  }
}
