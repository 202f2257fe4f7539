import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, type Api } from "../api/client";
import type { Comment, Rework, Task, Violation } from "../api/types";
import type { EditorRegion } from "../editor/regions";
import { toResult } from "../editor/regions";
import type { LoadedMedia } from "../tools/types";
import { clearLocalDraft, loadDraft, loadLocalDraft, newerDraft, type DraftState } from "./drafts";
import { loadMedia, releaseMedia } from "./media";

/** Tasks held beyond the current one, with their media decoded, so the next item needs no network. */
export const AHEAD = 3;

/** A task ready to show: media decoded, draft, rework context and comments loaded. */
export interface Prepared {
  task: Task;
  media: LoadedMedia;
  draft: DraftState | null;
  rework: Rework | null;
  comments: Comment[];
  loadError: string | null;
  /** Bumped when the task comes back after a refused submit (its editor is made anew). */
  generation: number;
}

export type QueueState =
  | { phase: "loading" }
  | { phase: "empty"; reason: string | null }
  | { phase: "failed"; message: string }
  | { phase: "ready"; item: Prepared };

export interface ActionError {
  taskId: string;
  status: number;
  detail: string;
  violations: readonly Violation[];
  /** Ids of the regions the violations point at (by region_index in the submitted result). */
  regionIds: readonly string[];
}

function toActionError(taskId: string, e: unknown, sent: readonly EditorRegion[] = []): ActionError {
  if (e instanceof ApiError) {
    const regionIds = e.violations.map((v) => (typeof v.region_index === "number" ? sent[v.region_index]?.id : undefined)).filter((id): id is string => !!id);
    const detail = e.status === 409 ? `${e.detail} (the lease on this task was lost; this work cannot be submitted)` : e.detail;
    return { taskId, status: e.status, detail, violations: e.violations, regionIds };
  }
  return { taskId, status: 0, detail: "Could not reach the Annotary server. Your work is still here; try again.", violations: [], regionIds: [] };
}

function messageOf(e: unknown): string {
  return e instanceof ApiError ? e.detail : e instanceof Error ? e.message : String(e);
}

/**
 * The annotator's tasks in one project. It holds the current task and AHEAD more (POST tasks/lease), prepared
 * in the background; submit and skip show the next prepared one at once and send the request behind it. A
 * submission the server refuses brings its task back, with the error and the submitted regions.
 */
export function useTaskQueue(api: Api, projectId: string) {
  const [state, setState] = useState<QueueState>({ phase: "loading" });
  const [error, setError] = useState<ActionError | null>(null);
  const [submitted, setSubmitted] = useState(0);
  const [held, setHeld] = useState<Task[]>([]);

  const q = useRef({
    current: null as Prepared | null,
    ready: [] as Prepared[],
    preparing: new Map<string, Promise<Prepared>>(),
    order: [] as string[],
    gone: new Set<string>(),
    inflight: 0,
    refilling: null as Promise<string | null> | null,
    alive: true,
    waiting: false,
    again: false,
    /** The task whose first frame is drawn; work queued in `later` waits for it. */
    readyFor: null as string | null,
    later: [] as (() => void)[],
  });

  /** Run `fn` once the shown item is on screen (background work must not delay the next item's first frame). */
  const afterReady = useCallback((fn: () => void) => {
    const s = q.current;
    if (s.current && s.readyFor !== s.current.task.id) s.later.push(fn);
    else fn();
  }, []);

  /** The workspace drew the task: run the work that waited for it, after this frame. */
  const markReady = useCallback((taskId: string) => {
    const s = q.current;
    if (s.current?.task.id !== taskId) return;
    s.readyFor = taskId;
    const waiting = s.later.splice(0);
    if (waiting.length) setTimeout(() => waiting.forEach((fn) => fn()), 0);
  }, []);

  const publishHeld = useCallback(() => {
    const s = q.current;
    const tasks = [...(s.current ? [s.current.task] : []), ...s.ready.map((p) => p.task)];
    setHeld((old) => (old.length === tasks.length && old.every((t, i) => t.id === tasks[i]!.id) ? old : tasks));
  }, []);

  const show = useCallback(
    (item: Prepared) => {
      const s = q.current;
      // the freshest work on it: the editor saves to localStorage as it goes
      item.draft = newerDraft(item.draft, loadLocalDraft(item.task.id));
      s.current = item;
      setState({ phase: "ready", item });
      publishHeld();
    },
    [publishHeld],
  );

  const prepare = useCallback(
    (task: Task): Promise<Prepared> => {
      const s = q.current;
      const known = s.preparing.get(task.id);
      if (known) return known;
      const promise = (async (): Promise<Prepared> => {
        const [media, draft, rework, comments] = await Promise.all([
          loadMedia(api, task).catch((e: unknown) => ({ error: messageOf(e) })),
          loadDraft(api, task.id),
          (task.round ?? 1) > 1 || task.feedback ? api.rework(task.id).catch(() => null) : Promise.resolve(null),
          api.comments(task.id).catch(() => [] as Comment[]),
        ]);
        const failed = "error" in media;
        return { task, media: failed ? { kind: "none" } : media, draft, rework, comments, loadError: failed ? media.error : null, generation: 0 };
      })();
      s.preparing.set(task.id, promise);
      void promise.then((item) => {
        s.preparing.delete(task.id);
        if (!s.alive || s.gone.has(task.id) || s.current?.task.id === task.id) {
          if (s.current?.task.id !== task.id) releaseMedia(item.media);
          return;
        }
        s.ready.push(item);
        s.ready.sort((a, b) => s.order.indexOf(a.task.id) - s.order.indexOf(b.task.id));
        publishHeld();
      });
      return promise;
    },
    [api, publishHeld],
  );

  /** Top the held leases up to 1 + AHEAD and prepare the new ones; resolves to the server's reason when none. */
  const refill = useCallback((): Promise<string | null> => {
    const s = q.current;
    if (s.refilling) {
      s.again = true; // the leases changed since that call was sent: top up once more after it
      return s.refilling;
    }
    const run = (async () => {
      const reply = await api.lease(projectId, 1 + AHEAD);
      const fresh = reply.tasks.filter((t) => !s.gone.has(t.id));
      s.order = [...s.order.filter((id) => fresh.some((t) => t.id === id)), ...fresh.map((t) => t.id).filter((id) => !s.order.includes(id))];
      for (const t of fresh) {
        if (s.current?.task.id === t.id || s.ready.some((p) => p.task.id === t.id)) continue;
        void prepare(t);
      }
      return reply.reason;
    })();
    s.refilling = run;
    void run
      .finally(() => {
        if (s.refilling === run) s.refilling = null;
        if (s.again && s.alive) {
          s.again = false;
          void refillRef.current().catch(() => undefined);
        }
      })
      .catch(() => undefined);
    return run;
  }, [api, projectId, prepare]);
  const refillRef = useRef(refill);
  refillRef.current = refill;

  /** Show the next prepared task, waiting for one only when none is ready. */
  const advance = useCallback(async () => {
    const s = q.current;
    s.current = null;
    const next = s.ready.shift();
    if (next) {
      show(next);
      afterReady(() => void refill().catch(() => undefined));
      return;
    }
    setState({ phase: "loading" });
    publishHeld();
    if (s.waiting) return;
    s.waiting = true;
    try {
      for (;;) {
        let reason: string | null = null;
        try {
          reason = await refill();
        } catch (e) {
          if (s.current) return;
          setState({ phase: "failed", message: messageOf(e) });
          return;
        }
        if (!s.alive || s.current) return;
        const pending = s.order.map((id) => s.preparing.get(id)).find((p): p is Promise<Prepared> => !!p);
        if (pending) await pending;
        if (!s.alive || s.current) return;
        const ready = s.ready.shift();
        if (ready) {
          show(ready);
          return;
        }
        if (!pending && s.inflight === 0 && s.preparing.size === 0) {
          setState({ phase: "empty", reason });
          return;
        }
        if (!pending) await new Promise((r) => setTimeout(r, 100)); // a submit in flight may bring its task back
      }
    } finally {
      s.waiting = false;
    }
  }, [refill, show, publishHeld, afterReady]);

  useEffect(() => {
    const s = q.current;
    s.alive = true;
    void advance();
    return () => {
      s.alive = false;
      if (s.current) releaseMedia(s.current.media);
      for (const p of s.ready) releaseMedia(p.media);
      s.ready = [];
    };
  }, [advance]);

  // the media of a task that is no longer shown
  useEffect(() => {
    if (state.phase !== "ready") return;
    const { item } = state;
    return () => {
      const s = q.current;
      if (s.current !== item && !s.ready.includes(item)) releaseMedia(item.media);
    };
  }, [state]);

  /** A refused submit or skip: the task comes back with the error and the regions it had. */
  const bounce = useCallback(
    (item: Prepared, regions: readonly EditorRegion[], leadTimeMs: number, e: unknown) => {
      const s = q.current;
      s.gone.delete(item.task.id);
      const err = toActionError(item.task.id, e, regions);
      if (err.status === 409 || err.status === 404) {
        setError(err); // the lease is gone: nothing to go back to
        return;
      }
      if (s.current && s.current !== item) s.ready.unshift(s.current);
      item.draft = { regions: [...regions], leadTimeMs, savedAt: Date.now(), source: "local" };
      item.generation += 1; // its editor starts again, from these regions
      setError(err);
      show(item);
    },
    [show],
  );

  const submit = useCallback(
    (regions: readonly EditorRegion[], leadTimeMs: number) => {
      const s = q.current;
      const item = s.current;
      if (!item) return;
      s.gone.add(item.task.id);
      s.inflight++;
      setError((old) => (old?.taskId === item.task.id ? null : old));
      void advance();
      // sent once the next item is drawn (a frame later): the annotator never waits for the network
      afterReady(() =>
      api
        .submit(item.task.id, toResult(regions), leadTimeMs)
        .then(() =>
          afterReady(() => {
            setSubmitted((n) => n + 1);
            clearLocalDraft(item.task.id);
            api.deleteDraft(item.task.id).catch(() => undefined);
            releaseMedia(item.media);
            refill().catch(() => undefined); // the lease is free now: hold the next one
          }),
        )
        .catch((e: unknown) => bounce(item, regions, leadTimeMs, e))
        .finally(() => {
          s.inflight--;
        }));
    },
    [api, advance, bounce, refill, afterReady],
  );

  const skip = useCallback(
    (regions: readonly EditorRegion[], leadTimeMs: number) => {
      const s = q.current;
      const item = s.current;
      if (!item) return;
      s.gone.add(item.task.id);
      s.inflight++;
      setError(null);
      void advance();
      api
        .skip(item.task.id)
        .then(() =>
          afterReady(() => {
            clearLocalDraft(item.task.id);
            api.deleteDraft(item.task.id).catch(() => undefined);
            releaseMedia(item.media);
            refill().catch(() => undefined);
          }),
        )
        .catch((e: unknown) => bounce(item, regions, leadTimeMs, e))
        .finally(() => {
          s.inflight--;
        });
    },
    [api, advance, bounce, refill, afterReady],
  );

  const retry = useCallback(() => {
    setError(null);
    void advance();
  }, [advance]);

  return { state, error, submitted, held, submit, skip, retry, markReady };
}
