import { useEffect } from "react";
import type { Api } from "../api/client";
import type { Task } from "../api/types";

const MIN_MS = 5_000;
const MAX_MS = 60_000;

/** When to renew a lease: half of what is left, within 5..60 s. */
export function heartbeatDelay(leaseExpiresAt: string | null | undefined, now = Date.now()): number {
  const left = leaseExpiresAt ? Date.parse(leaseExpiresAt) - now : NaN;
  return Number.isFinite(left) ? Math.min(MAX_MS, Math.max(MIN_MS, left / 2)) : MAX_MS / 2;
}

/** Keep the lease on the shown task alive while the annotator works on it. */
export function useHeartbeat(api: Api, task: Task | null): void {
  useEffect(() => {
    if (!task) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const schedule = (expiresAt: string | null | undefined) => {
      if (!stopped) timer = setTimeout(beat, heartbeatDelay(expiresAt));
    };
    const beat = () => {
      api.heartbeat(task.id).then(
        (r) => schedule(r.lease_expires_at),
        () => schedule(null),
      );
    };
    schedule(task.lease_expires_at);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [api, task]);
}
