// Drafts: the work on a held task, saved as it changes (localStorage at once, the server a moment later) and
// restored when the task is shown again, after a reload or on another machine (the newer copy wins).
import { useEffect, useRef } from "react";
import type { Api } from "../api/client";
import type { Region } from "../api/types";
import { withIds, type EditorRegion } from "../editor/regions";

const PREFIX = "annotary.draft.";
const LOCAL_DELAY_MS = 150;
const SERVER_DELAY_MS = 1200;

export interface DraftState {
  regions: EditorRegion[];
  leadTimeMs: number;
  savedAt: number;
  source: "local" | "server";
}

interface StoredDraft {
  regions: Region[];
  leadTimeMs: number;
  savedAt: number;
}

export function saveLocalDraft(taskId: string, regions: readonly Region[], leadTimeMs: number): void {
  try {
    localStorage.setItem(PREFIX + taskId, JSON.stringify({ regions: [...regions], leadTimeMs: Math.round(leadTimeMs), savedAt: Date.now() } satisfies StoredDraft));
  } catch {
    // storage full or disabled: the server copy remains
  }
}

export function loadLocalDraft(taskId: string): DraftState | null {
  try {
    const raw = localStorage.getItem(PREFIX + taskId);
    if (!raw) return null;
    const d = JSON.parse(raw) as StoredDraft;
    if (!Array.isArray(d.regions)) return null;
    return { regions: withIds(d.regions), leadTimeMs: Number(d.leadTimeMs) || 0, savedAt: Number(d.savedAt) || 0, source: "local" };
  } catch {
    return null;
  }
}

export function clearLocalDraft(taskId: string): void {
  try {
    localStorage.removeItem(PREFIX + taskId);
  } catch {
    // nothing stored
  }
}

/** The newer of the local and the server draft of a task (null when there is neither). */
export async function loadDraft(api: Api, taskId: string): Promise<DraftState | null> {
  const local = loadLocalDraft(taskId);
  const server = await api.getDraft(taskId).catch(() => null);
  const remote: DraftState | null = server
    ? { regions: withIds(server.result), leadTimeMs: server.lead_time_ms, savedAt: Date.parse(server.updated_at) || 0, source: "server" }
    : null;
  if (local && remote) return local.savedAt >= remote.savedAt ? local : remote;
  return local ?? remote;
}

export function newerDraft(a: DraftState | null, b: DraftState | null): DraftState | null {
  if (!a || !b) return a ?? b;
  return a.savedAt >= b.savedAt ? a : b;
}

/**
 * Save the regions of a task whenever they change (not the ones it opened with), and once more when the
 * editor closes or the page goes away.
 */
export function useDraftSaver(api: Api | null, taskId: string, regions: readonly EditorRegion[], leadTime: () => number): { settle(): void } {
  const initial = useRef(regions);
  const state = useRef({ regions, dirtyLocal: false, dirtyServer: false });
  const timers = useRef<{ local?: ReturnType<typeof setTimeout>; server?: ReturnType<typeof setTimeout> }>({});
  const lead = useRef(leadTime);
  lead.current = leadTime;

  const flushLocal = () => {
    clearTimeout(timers.current.local);
    if (!state.current.dirtyLocal) return;
    state.current.dirtyLocal = false;
    saveLocalDraft(taskId, state.current.regions, lead.current());
  };
  const flushServer = (keepalive: boolean) => {
    clearTimeout(timers.current.server);
    if (!state.current.dirtyServer || !api) return;
    state.current.dirtyServer = false;
    api.putDraft(taskId, state.current.regions, lead.current(), keepalive).catch(() => {
      state.current.dirtyServer = true; // try again with the next change
    });
  };
  const flush = useRef({ flushLocal, flushServer });
  flush.current = { flushLocal, flushServer };

  useEffect(() => {
    if (regions === initial.current) return;
    state.current = { regions, dirtyLocal: true, dirtyServer: true };
    clearTimeout(timers.current.local);
    clearTimeout(timers.current.server);
    timers.current.local = setTimeout(() => flush.current.flushLocal(), LOCAL_DELAY_MS);
    timers.current.server = setTimeout(() => flush.current.flushServer(false), SERVER_DELAY_MS);
  }, [regions]);

  useEffect(() => {
    const away = () => {
      flush.current.flushLocal();
      flush.current.flushServer(true);
    };
    window.addEventListener("pagehide", away);
    return () => {
      window.removeEventListener("pagehide", away);
      away();
    };
  }, []);

  return {
    /** The task is being submitted or skipped: keep the local copy (a refusal brings it back), skip the server's. */
    settle() {
      state.current.dirtyServer = false;
      clearTimeout(timers.current.server);
      flush.current.flushLocal();
    },
  };
}
