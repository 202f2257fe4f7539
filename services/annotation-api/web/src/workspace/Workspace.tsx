import { useMemo } from "react";
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

/** One project's labeling loop: next task -> label -> submit or skip -> next task. */
export function Workspace({ api, project, onExit }: Props) {
  const tools = useMemo(() => resolveTools(project.schema), [project.schema]);
  // label hotkeys only matter when a tool uses labels; otherwise the digits are free for choices
  const labels = useMemo(
    () => resolveLabels(project.schema).map((l) => (tools.usesLabels ? l : { ...l, hotkey: null })),
    [project.schema, tools],
  );
  const queue = useTaskQueue(api, project.id);
  const { state } = queue;
  useHeartbeat(api, state.phase === "ready" ? state.task : null);

  switch (state.phase) {
    case "loading":
      return (
        <p className="notice" data-testid="loading">
          Loading the next item…
        </p>
      );
    case "empty":
      return <NothingLeft projectName={project.name} submitted={queue.submitted} onRetry={() => void queue.loadNext()} onExit={onExit} />;
    case "failed":
      return (
        <div className="notice" role="alert" data-testid="load-error">
          Could not load the next task: {state.message} <button onClick={() => void queue.loadNext()}>Retry</button>
        </div>
      );
    case "ready":
      return (
        <Editor
          key={state.task.id}
          project={project}
          task={state.task}
          media={state.media}
          tools={tools}
          labels={labels}
          busy={queue.busy}
          error={queue.error}
          submitted={queue.submitted}
          onSubmit={(regions, lead) => void queue.submit(regions, lead)}
          onSkip={() => void queue.skip()}
          onNext={() => void queue.loadNext()}
        />
      );
  }
}
