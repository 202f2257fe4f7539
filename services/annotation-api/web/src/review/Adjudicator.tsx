import { useEffect, useMemo, useState } from "react";
import type { Api } from "../api/client";
import type { Project, Region, Task } from "../api/types";
import { toResult, type EditorRegion } from "../editor/regions";
import { resolveLabels } from "../lib/labels";
import { resolveTools } from "../tools/registry";
import type { LoadedMedia } from "../tools/types";
import { Editor } from "../workspace/Editor";
import { loadMedia, releaseMedia } from "../workspace/media";
import type { ActionError } from "../workspace/useTaskQueue";
import type { ReviewEntry } from "./types";

interface Props {
  api: Api;
  project: Project;
  entry: ReviewEntry;
  /** The version the reviewer starts from (an annotator's result). */
  start: readonly Region[];
  error: string | null;
  onSubmit(result: Region[]): void;
  onCancel(): void;
}

/** The workspace's editor on the item, opened with one annotator's version: the reviewer corrects it with the
 * same tools and submits it as the final, accepted annotation. */
export function Adjudicator({ api, project, entry, start, error, onSubmit, onCancel }: Props) {
  const task: Task = useMemo(
    () => ({
      id: `adjudicate-${entry.item.id}-${entry.round}`,
      project_id: project.id,
      state: "under_review",
      item: entry.item,
      predictions: [],
      result: [...start],
      round: entry.round,
    }),
    [entry, project.id, start],
  );
  const tools = useMemo(() => resolveTools(project.schema), [project.schema]);
  const labels = useMemo(
    () => resolveLabels(project.schema).map((l) => (tools.usesLabels ? l : { ...l, hotkey: null })),
    [project.schema, tools],
  );
  const [media, setMedia] = useState<LoadedMedia | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let loaded: LoadedMedia | null = null;
    loadMedia(api, task).then(
      (m) => {
        loaded = m;
        if (alive) setMedia(m);
        else releaseMedia(m);
      },
      (e: unknown) => alive && setLoadError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      alive = false;
      if (loaded) releaseMedia(loaded);
    };
  }, [api, task]);
  const actionError: ActionError | null = error ? { taskId: task.id, status: 422, detail: error, violations: [], regionIds: [] } : null;

  if (loadError) return <p className="notice" role="alert">{loadError}</p>;
  if (!media) return <p className="notice">Loading the item…</p>;
  return (
    <div className="adjudicator" data-testid="adjudicator">
      <p className="notice adjudicate-hint">
        Adjudicating: correct the regions with the usual tools, then <strong>Submit</strong> makes them the final, accepted
        annotation. <button type="button" data-testid="adjudicate-cancel" onClick={onCancel}>Back to the comparison</button>
      </p>
      <Editor
        api={null}
        project={project}
        task={task}
        media={media}
        tools={tools}
        labels={labels}
        error={actionError}
        submitted={0}
        onSubmit={(regions: readonly EditorRegion[]) => onSubmit(toResult(regions))}
        onSkip={onCancel}
        onNext={onCancel}
      />
    </div>
  );
}
