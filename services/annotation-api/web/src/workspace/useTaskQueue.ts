import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, type Api } from "../api/client";
import type { Task, Violation } from "../api/types";
import type { EditorRegion } from "../editor/regions";
import { toResult } from "../editor/regions";
import type { LoadedMedia } from "../tools/types";
import { loadMedia, releaseMedia } from "./media";

export type QueueState =
  | { phase: "loading" }
  | { phase: "empty" }
  | { phase: "failed"; message: string }
  | { phase: "ready"; task: Task; media: LoadedMedia };

export interface ActionError {
  status: number;
  detail: string;
  violations: readonly Violation[];
  /** Ids of the regions the violations point at (by region_index in the submitted result). */
  regionIds: readonly string[];
}

function toActionError(e: unknown, sent: readonly EditorRegion[] = []): ActionError {
  if (e instanceof ApiError) {
    const regionIds = e.violations.map((v) => (typeof v.region_index === "number" ? sent[v.region_index]?.id : undefined)).filter((id): id is string => !!id);
    const detail = e.status === 409 ? `${e.detail} (the lease on this task was lost; this work cannot be submitted)` : e.detail;
    return { status: e.status, detail, violations: e.violations, regionIds };
  }
  return { status: 0, detail: "Could not reach the Annotary server. Your work is still here; try again.", violations: [], regionIds: [] };
}

function messageOf(e: unknown): string {
  return e instanceof ApiError ? e.detail : e instanceof Error ? e.message : String(e);
}

/** The annotator's current task in one project: next, submit (then next), skip (then next). */
export function useTaskQueue(api: Api, projectId: string) {
  const [state, setState] = useState<QueueState>({ phase: "loading" });
  const [error, setError] = useState<ActionError | null>(null);
  const [busy, setBusy] = useState(false);
  const [submitted, setSubmitted] = useState(0);
  const generation = useRef(0);
  const busyRef = useRef(false);

  const loadNext = useCallback(async () => {
    const gen = ++generation.current;
    setState({ phase: "loading" });
    setError(null);
    try {
      const task = await api.nextTask(projectId);
      if (gen !== generation.current) return;
      if (!task) {
        setState({ phase: "empty" });
        return;
      }
      const media = await loadMedia(api, task);
      if (gen !== generation.current) {
        releaseMedia(media);
        return;
      }
      setState({ phase: "ready", task, media });
    } catch (e) {
      if (gen === generation.current) setState({ phase: "failed", message: messageOf(e) });
    }
  }, [api, projectId]);

  useEffect(() => {
    void loadNext();
    return () => {
      generation.current++;
    };
  }, [loadNext]);

  useEffect(() => {
    if (state.phase !== "ready") return;
    const { media } = state;
    return () => releaseMedia(media);
  }, [state]);

  const task = state.phase === "ready" ? state.task : null;

  const act = useCallback(
    async (run: (t: Task) => Promise<unknown>, sent?: readonly EditorRegion[]) => {
      if (!task || busyRef.current) return false;
      busyRef.current = true;
      setBusy(true);
      setError(null);
      try {
        await run(task);
      } catch (e) {
        setError(toActionError(e, sent));
        return false;
      } finally {
        busyRef.current = false;
        setBusy(false);
      }
      await loadNext();
      return true;
    },
    [task, loadNext],
  );

  const submit = useCallback(
    async (regions: readonly EditorRegion[], leadTimeMs: number) => {
      const ok = await act((t) => api.submit(t.id, toResult(regions), leadTimeMs), regions);
      if (ok) setSubmitted((n) => n + 1);
    },
    [act, api],
  );

  const skip = useCallback(() => act((t) => api.skip(t.id)), [act, api]);

  return { state, error, busy, submitted, submit, skip, loadNext };
}
