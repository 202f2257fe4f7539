import { useEffect, useState } from "react";
import type { Api } from "../../api/client";
import type { Project } from "../../api/types";
import { describeError } from "../../auth/useSession";

export interface Stats {
  states: Record<string, number>;
  tasks: Record<string, number>;
  gold_items: number;
  throughput: { submissions_last_hour: number };
  agreement: Record<string, number>;
  quality: { items_decided: number; items_accepted: number; items_in_review: number };
}

export const ITEM_STATES = ["unassigned", "assigned", "in_progress", "submitted", "under_review", "accepted", "rejected"] as const;
const STATE_COLORS: Record<string, string> = {
  unassigned: "#b0b8c8",
  assigned: "#90caf9",
  in_progress: "#42a5f5",
  submitted: "#ab47bc",
  under_review: "#ffa726",
  accepted: "#66bb6a",
  rejected: "#ef5350",
};
const POLL_MS = 2000;

/** Item counts per state from /stats, refreshed every two seconds while the tab is open. */
export function ProgressTab({ api, project }: { api: Api; project: Project }) {
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () => {
      api.request<Stats>("GET", `/projects/${encodeURIComponent(project.id)}/stats`).then(
        (s) => {
          if (!alive) return;
          setStats(s);
          setError(null);
          timer = setTimeout(poll, POLL_MS);
        },
        (e: unknown) => {
          if (!alive) return;
          setError(describeError(e));
          timer = setTimeout(poll, POLL_MS * 2);
        },
      );
    };
    poll();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [api, project.id]);
  if (!stats) return <p className="notice">{error ?? "Loading figures…"}</p>;
  const states = [...ITEM_STATES, ...Object.keys(stats.states).filter((s) => !(ITEM_STATES as readonly string[]).includes(s))];
  const total = Object.values(stats.states).reduce((a, b) => a + b, 0);
  return (
    <div className="progress" data-testid="progress">
      <div className="state-bar" aria-label="items by state">
        {states.map((s) =>
          stats.states[s] ? <span key={s} style={{ flexGrow: stats.states[s], background: STATE_COLORS[s] ?? "#999" }} title={`${s}: ${stats.states[s]}`} /> : null,
        )}
      </div>
      <table className="figures">
        <tbody>
          <tr>
            <th>items</th>
            <td data-testid="items-total">{total}</td>
          </tr>
          {states.map((s) => (
            <tr key={s}>
              <th>
                <span className="swatch" style={{ background: STATE_COLORS[s] ?? "#999" }} /> {s.replace("_", " ")}
              </th>
              <td data-testid={`state-${s}`}>{stats.states[s] ?? 0}</td>
            </tr>
          ))}
          <tr>
            <th>gold items</th>
            <td data-testid="gold-items">{stats.gold_items}</td>
          </tr>
          <tr>
            <th>submissions in the last hour</th>
            <td>{stats.throughput.submissions_last_hour}</td>
          </tr>
          {Object.entries(stats.agreement).map(([k, v]) => (
            <tr key={k}>
              <th>agreement ({k})</th>
              <td>{v.toFixed(3)}</td>
            </tr>
          ))}
          <tr>
            <th>decided / accepted / in review</th>
            <td>
              {stats.quality.items_decided} / {stats.quality.items_accepted} / {stats.quality.items_in_review}
            </td>
          </tr>
        </tbody>
      </table>
      {error && <p className="form-error">{error}</p>}
    </div>
  );
}
