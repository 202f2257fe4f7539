import { useCallback, useEffect, useState } from "react";
import type { Api } from "../../api/client";
import type { Project, Role } from "../../api/types";
import { describeError } from "../../auth/useSession";

interface Person {
  annotator_id: string;
  username: string;
  role: Role;
  submissions: number;
  gold_accuracy?: number | null;
  agreement_with_consensus?: number | null;
  rejection_rate?: number | null;
  median_lead_time_ms?: number | null;
  paused: boolean;
  pause_reason: string | null;
}

const ROLES: Role[] = ["annotator", "reviewer", "manager", "admin"];
const pct = (v: number | null | undefined) => (typeof v === "number" ? `${Math.round(v * 100)}%` : "–");

/** Everyone with their role and, in this project, their quality; pause (with a reason) and reinstate. */
export function PeopleTab({ api, project }: { api: Api; project: Project }) {
  const [people, setPeople] = useState<Person[] | null>(null);
  const [reasons, setReasons] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const path = `/projects/${encodeURIComponent(project.id)}`;
  const load = useCallback(() => {
    api.request<Person[]>("GET", `${path}/people`).then(setPeople, (e: unknown) => setError(describeError(e)));
  }, [api, path]);
  useEffect(load, [load]);
  const act = async (call: () => Promise<unknown>) => {
    setError(null);
    try {
      await call();
      load();
    } catch (e) {
      setError(describeError(e));
    }
  };
  if (!people) return <p className="notice">{error ?? "Loading people…"}</p>;
  return (
    <div>
      <table className="figures people" data-testid="people">
        <thead>
          <tr>
            <th>user</th>
            <th>role</th>
            <th>submissions</th>
            <th>gold accuracy</th>
            <th>agreement</th>
            <th>rejected</th>
            <th>state</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {people.map((p) => (
            <tr key={p.annotator_id} data-testid={`person-${p.username}`}>
              <td>{p.username}</td>
              <td>
                <select
                  data-testid={`role-${p.username}`}
                  value={p.role}
                  onChange={(e) => void act(() => api.request("POST", `/users/${p.annotator_id}/role`, { role: e.target.value }))}
                >
                  {ROLES.map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </select>
              </td>
              <td>{p.submissions}</td>
              <td>{pct(p.gold_accuracy)}</td>
              <td>{pct(p.agreement_with_consensus)}</td>
              <td>{pct(p.rejection_rate)}</td>
              <td data-testid={`state-${p.username}`}>{p.paused ? `paused: ${p.pause_reason ?? ""}` : "active"}</td>
              <td className="person-actions">
                {p.paused ? (
                  <button type="button" data-testid={`reinstate-${p.username}`} onClick={() => void act(() => api.request("POST", `${path}/annotators/${p.annotator_id}/reinstate`))}>
                    Reinstate
                  </button>
                ) : (
                  <>
                    <input
                      placeholder="reason"
                      data-testid={`pause-reason-${p.username}`}
                      value={reasons[p.annotator_id] ?? ""}
                      onChange={(e) => setReasons({ ...reasons, [p.annotator_id]: e.target.value })}
                    />
                    <button
                      type="button"
                      data-testid={`pause-${p.username}`}
                      disabled={!(reasons[p.annotator_id] ?? "").trim()}
                      onClick={() => void act(() => api.request("POST", `${path}/annotators/${p.annotator_id}/pause`, { reason: reasons[p.annotator_id]!.trim() }))}
                    >
                      Pause
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && (
        <p className="form-error" role="alert" data-testid="people-error">
          {error}
        </p>
      )}
    </div>
  );
}
