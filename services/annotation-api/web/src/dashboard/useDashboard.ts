import { useCallback, useEffect, useState } from "react";
import type { Api } from "../api/client";
import { describeError } from "../auth/useSession";
import { queryString, rangeQuery, type RangeChoice } from "./range";

export type Loaded<T> = { kind: "loading" } | { kind: "failed"; message: string } | { kind: "ready"; data: T };

/** GET `path?start&end&bucket` for the chosen range; `reload` fetches again (a preset moves with the clock). */
export function useDashboard<T>(api: Api, path: string, choice: RangeChoice): { state: Loaded<T>; reload(): void } {
  const [state, setState] = useState<Loaded<T>>({ kind: "loading" });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const query = rangeQuery(choice);
    if ("error" in query) {
      setState({ kind: "failed", message: query.error });
      return;
    }
    let live = true;
    setState({ kind: "loading" });
    api.request<T>("GET", `${path}?${queryString(query)}`).then(
      (data) => live && setState({ kind: "ready", data }),
      (e: unknown) => live && setState({ kind: "failed", message: describeError(e) }),
    );
    return () => {
      live = false;
    };
  }, [api, path, choice, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { state, reload };
}
