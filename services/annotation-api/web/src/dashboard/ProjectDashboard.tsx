import { useMemo } from "react";
import type { Api } from "../api/client";
import { Chart } from "./Chart";
import { DASH, formatDuration, formatNumber, formatPercent } from "./format";
import type { RangeChoice } from "./range";
import { queueChart, qualityChart, rejectionChart, STATE_ORDER, taskTimeChart, throughputChart } from "./series";
import type { ProjectDashboard as Data } from "./types";
import { useDashboard } from "./useDashboard";

interface Props {
  api: Api;
  projectId: string;
  range: RangeChoice;
}

/** A manager's view of a project over a range: headline figures, charts and the per-annotator table. */
export function ProjectDashboard({ api, projectId, range }: Props) {
  const { state, reload } = useDashboard<Data>(api, `/projects/${encodeURIComponent(projectId)}/dashboard`, range);
  if (state.kind === "loading") return <p className="notice">Loading the dashboard…</p>;
  if (state.kind === "failed")
    return (
      <p className="notice" role="alert" data-testid="dashboard-error">
        {state.message} <button onClick={reload}>Retry</button>
      </p>
    );
  return <Figures data={state.data} onReload={reload} />;
}

function Tile({ label, value, testId, hint }: { label: string; value: string; testId: string; hint?: string }) {
  return (
    <div className="dash-tile" title={hint}>
      <span className="muted">{label}</span>
      <strong data-testid={testId}>{value}</strong>
    </div>
  );
}

function Figures({ data, onReload }: { data: Data; onReload(): void }) {
  const charts = useMemo(
    () => ({
      byAnnotator: throughputChart(data, "annotator"),
      byType: throughputChart(data, "task_type"),
      taskTime: taskTimeChart(data),
      agreement: qualityChart(data, "agreement"),
      gold: qualityChart(data, "gold_accuracy"),
      rejections: rejectionChart(data),
      queue: queueChart(data),
    }),
    [data],
  );
  const d = data.decisions;
  const queueStates = [...STATE_ORDER.filter((s) => s in data.queue.now), ...Object.keys(data.queue.now).filter((s) => !STATE_ORDER.includes(s))];
  return (
    <div className="dashboard" data-testid="project-dashboard">
      <div className="dash-tiles">
        <Tile label="Submissions" value={String(data.throughput.total)} testId="dash-submissions" />
        <Tile label="Per hour" value={formatNumber(data.throughput.per_hour)} testId="dash-per-hour" hint="submissions in the range / its hours" />
        <Tile label="Median time per task" value={formatDuration(data.task_time.median_ms)} testId="dash-median" hint="lease to submit" />
        <Tile label="p95 time per task" value={formatDuration(data.task_time.p95_ms)} testId="dash-p95" />
        <Tile label="Agreement" value={formatPercent(data.agreement.mean)} testId="dash-agreement" hint={`${data.agreement.scored} decided items`} />
        <Tile label="Gold accuracy" value={formatPercent(data.gold_accuracy.mean)} testId="dash-gold" hint={`${data.gold_accuracy.scored} gold answers`} />
        <Tile label="Items decided" value={String(d.decided)} testId="dash-decided" />
        <Tile label="Rejected" value={`${formatPercent(d.rejection_rate)} (${d.rejected})`} testId="dash-rejection-rate" />
        <Tile label="Sent to review" value={`${formatPercent(d.review_rate)} (${d.reviewed})`} testId="dash-review-rate" />
        <button type="button" onClick={onReload} data-testid="dash-refresh">
          Refresh
        </button>
      </div>
      <section className="dash-queue" aria-label="queue now">
        <h3>Queue now</h3>
        {queueStates.length === 0 && <span className="muted">No items.</span>}
        {queueStates.map((s) => (
          <span key={s} className="dash-state">
            {s.replace("_", " ")} <strong data-testid={`dash-queue-${s}`}>{data.queue.now[s]}</strong>
          </span>
        ))}
      </section>
      <div className="dash-charts">
        <Chart title="Throughput by annotator (submissions)" data={charts.byAnnotator} testId="chart-throughput-annotator" />
        <Chart title="Throughput by task type (submissions)" data={charts.byType} testId="chart-throughput-type" />
        <Chart title="Time per task, lease to submit" data={charts.taskTime} unit="s" testId="chart-task-time" />
        <Chart title="Queue depth by state" data={charts.queue} testId="chart-queue" />
        <Chart title="Agreement" data={charts.agreement} unit="%" testId="chart-agreement" />
        <Chart title="Gold accuracy" data={charts.gold} unit="%" testId="chart-gold" />
        <Chart title="Rejection and review rates" data={charts.rejections} unit="%" testId="chart-rejections" />
      </div>
      <AnnotatorTable data={data} />
    </div>
  );
}

function AnnotatorTable({ data }: { data: Data }) {
  return (
    <table className="dash-table" data-testid="annotator-table">
      <thead>
        <tr>
          <th>Annotator</th>
          <th>Submissions</th>
          <th>Per hour</th>
          <th>Median time</th>
          <th>p95 time</th>
          <th>Gold accuracy</th>
          <th>Agreement</th>
          <th>Rejected</th>
        </tr>
      </thead>
      <tbody>
        {data.annotators.length === 0 && (
          <tr>
            <td colSpan={8} className="muted">
              Nobody submitted in this range.
            </td>
          </tr>
        )}
        {data.annotators.map((a) => {
          const name = a.username ?? a.annotator_id;
          return (
            <tr key={a.annotator_id} data-testid={`annotator-row-${name}`}>
              <td>{name}</td>
              <td data-testid="cell-submissions">{a.submissions}</td>
              <td data-testid="cell-per-hour">{formatNumber(a.per_hour)}</td>
              <td data-testid="cell-median">{formatDuration(a.median_ms)}</td>
              <td data-testid="cell-p95">{formatDuration(a.p95_ms)}</td>
              <td data-testid="cell-gold">
                {formatPercent(a.gold_accuracy)} {a.gold_scored ? <span className="muted">({a.gold_scored})</span> : null}
              </td>
              <td data-testid="cell-agreement">{formatPercent(a.agreement)}</td>
              <td data-testid="cell-rejection">
                {a.closed ? `${formatPercent(a.rejection_rate)} (${a.rejected}/${a.closed})` : DASH}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
