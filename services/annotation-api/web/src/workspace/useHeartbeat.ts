import { useEffect, useRef } from "react";
import type { Api } from "../api/client";
import type { Task } from "../api/types";

const MIN_MS = 5_000;
const MAX_MS = 60_000;

/** When to renew a lease: half of what is left, within 5..60 s. */
export function heartbeatDelay(leaseExpiresAt: string | null | undefined, now = Date.now()): number {
  const left = leaseExpiresAt ? Date.parse(leaseExpiresAt) - now : NaN;
  return Number.isFinite(left) ? Math.min(MAX_MS, Math.max(MIN_MS, left / 2)) : MAX_MS / 2;
}

/** Keep the leases alive on the shown task and on the pre-loaded ones. */
export function useHeartbeat(api: Api, tasks: readonly Task[]): void {
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  const ids = tasks.map((t) => t.id).join(",");
  const latest = useRef(tasks);
  latest.current = tasks;

  useEffect(() => {
    const live = new Set(latest.current.map((t) => t.id));
    const map = timers.current;
    for (const [id, timer] of map) {
      if (!live.has(id)) {
        clearTimeout(timer);
        map.delete(id);
      }
    }
    const schedule = (id: string, expiresAt: string | null | undefined) => {
      map.set(
        id,
        setTimeout(() => {
          api.heartbeat(id).then(
            (r) => map.has(id) && schedule(id, r.lease_expires_at),
            () => map.has(id) && schedule(id, null),
          );
        }, heartbeatDelay(expiresAt)),
      );
    };
    for (const t of latest.current) if (!map.has(t.id)) schedule(t.id, t.lease_expires_at);
  }, [api, ids]);

  useEffect(() => {
    const map = timers.current;
    return () => {
      for (const timer of map.values()) clearTimeout(timer);
      map.clear();
    };
  }, []);
}
