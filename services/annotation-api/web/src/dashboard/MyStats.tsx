import { useMemo } from "react";
import type { Api } from "../api/client";
import { Chart } from "./Chart";
import { formatDuration, formatNumber, formatPercent } from "./format";
import type { RangeChoice } from "./range";
import { myChart, versusMedian } from "./series";
import type { AnnotatorDashboard, Compared } from "./types";
import { useDashboard } from "./useDashboard";

interface Props {
  api: Api;
  projectId: string;
  range: RangeChoice;
  /** "me" (the default) or, for managers, any annotator's id. */
  annotatorId?: string;
}

const ROWS: { key: Compared; label: string; format(v: number | null): string }[] = [
  { key: "per_hour", label: "Submissions per hour", format: (v) => formatNumber(v) },
  { key: "median_ms", label: "Median time per task", format: formatDuration },
  { key: "p95_ms", label: "p95 time per task", format: formatDuration },
  { key: "gold_accuracy", label: "Gold accuracy", format: formatPercent },
  { key: "agreement", label: "Agreement with the accepted result", format: formatPercent },
  { key: "rejection_rate", label: "Rejection rate", format: formatPercent },
];

/** An annotator's own figures over a range, next to the median of the project's annotators. */
export function MyStats({ api, projectId, range, annotatorId = "me" }: Props) {
  const path = `/projects/${encodeURIComponent(projectId)}/dashboard/annotators/${encodeURIComponent(annotatorId)}`;
  const { state, reload } = useDashboard<AnnotatorDashboard>(api, path, range);
  const charts = useMemo(
    () => (state.kind === "ready" ? { work: myChart(state.data, "submissions"), gold: myChart(state.data, "gold_accuracy") } : null),
    [state],
  );
  if (state.kind === "loading") return <p className="notice">Loading your figures…</p>;
  if (state.kind === "failed")
    return (
      <p className="notice" role="alert" data-testid="dashboard-error">
        {state.message} <button onClick={reload}>Retry</button>
      </p>
    );
  const d = state.data;
  const me = d.annotator;
  return (
    <div className="dashboard" data-testid="my-stats">
      <div className="dash-tiles">
        <div className="dash-tile">
          <span className="muted">Submissions</span>
          <strong data-testid="my-submissions">{me.submissions}</strong>
        </div>
        <div className="dash-tile">
          <span className="muted">Gold answers scored</span>
          <strong data-testid="my-gold-scored">{me.gold_scored}</strong>
        </div>
        <div className="dash-tile">
          <span className="muted">Rejected</span>
          <strong data-testid="my-rejected">
            {me.rejected} of {me.closed}
          </strong>
        </div>
      </div>
      <table className="dash-table" data-testid="my-comparison">
        <thead>
          <tr>
            <th />
            <th>{me.username ?? "you"}</th>
            <th>Project median ({d.annotators_compared} annotators)</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {ROWS.map((row) => {
            const verdict = versusMedian(row.key, me[row.key], d.project_median[row.key]);
            return (
              <tr key={row.key} data-testid={`my-row-${row.key}`}>
                <td>{row.label}</td>
                <td data-testid="mine">{row.format(me[row.key])}</td>
                <td data-testid="median">{row.format(d.project_median[row.key])}</td>
                <td className={`verdict ${verdict}`}>{verdict === "n/a" ? "" : verdict}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {charts && (
        <div className="dash-charts">
          <Chart title="Your submissions" data={charts.work} testId="chart-my-throughput" />
          <Chart title="Your gold accuracy" data={charts.gold} unit="%" testId="chart-my-gold" />
        </div>
      )}
    </div>
  );
}
