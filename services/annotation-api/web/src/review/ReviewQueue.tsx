import { useCallback, useEffect, useMemo, useState } from "react";
import type { Api } from "../api/client";
import type { Project, Region } from "../api/types";
import { describeError } from "../auth/useSession";
import { Adjudicator } from "./Adjudicator";
import { annotatorColor, disagreement } from "./diff";
import type { Decision, ReviewEntry, ReviewQueueReply } from "./types";
import { Versions } from "./Versions";
import "./review.css";

interface Props {
  api: Api;
  project: Project;
}

type State = { kind: "loading" } | { kind: "failed"; message: string } | { kind: "ready"; project: Project; reviews: ReviewEntry[] };

const key = (e: ReviewEntry) => `${e.item.id}:${e.round}`;

/** The review queue: items waiting for a reviewer, one at a time, every version side by side. */
export function ReviewQueue({ api, project }: Props) {
  const [state, setState] = useState<State>({ kind: "loading" });
  const [current, setCurrent] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const load = useCallback(() => {
    api.request<ReviewQueueReply>("GET", `/projects/${encodeURIComponent(project.id)}/review-queue?limit=200`).then(
      (reply) => {
        setState({ kind: "ready", project: reply.project, reviews: reply.reviews });
        setCurrent((c) => (c && reply.reviews.some((r) => key(r) === c) ? c : reply.reviews[0] ? key(reply.reviews[0]) : null));
      },
      (e: unknown) => setState({ kind: "failed", message: describeError(e) }),
    );
  }, [api, project.id]);
  useEffect(load, [load]);

  if (state.kind === "loading") return <p className="notice">Loading the review queue…</p>;
  if (state.kind === "failed")
    return (
      <p className="notice" role="alert">
        {state.message} <button onClick={load}>Retry</button>
      </p>
    );
  const entry = state.reviews.find((r) => key(r) === current) ?? null;
  const decided = (done: ReviewEntry, message: string) => {
    setStatus(message);
    const rest = state.reviews.filter((r) => key(r) !== key(done));
    const at = state.reviews.findIndex((r) => key(r) === key(done));
    setState({ ...state, reviews: rest });
    setCurrent(rest[Math.min(at, rest.length - 1)] ? key(rest[Math.min(at, rest.length - 1)]!) : null);
  };
  return (
    <main className="review" data-testid="review-screen">
      <aside className="review-list">
        <h3>
          To review <span className="badge" data-testid="review-count">{state.reviews.length}</span>
        </h3>
        <button type="button" className="link" data-testid="review-refresh" onClick={load}>
          Refresh
        </button>
        <ul>
          {state.reviews.map((r) => (
            <li key={key(r)}>
              <button type="button" data-testid="review-item" aria-pressed={key(r) === current} className="review-entry" onClick={() => setCurrent(key(r))}>
                <strong>{r.item.external_id ?? r.item.id}</strong>
                <span className="muted">
                  round {r.round} · {r.submissions.length} versions · agreement {r.agreement === null ? "n/a" : r.agreement.toFixed(2)}
                </span>
              </button>
            </li>
          ))}
        </ul>
        {state.reviews.length === 0 && (
          <p className="notice" data-testid="review-empty">
            Nothing is waiting for review.
          </p>
        )}
      </aside>
      <section className="review-main">
        {status && (
          <p className="review-status" data-testid="review-status" role="status">
            {status}
          </p>
        )}
        {entry && <ReviewItem key={key(entry)} api={api} project={state.project} entry={entry} onDecided={(m) => decided(entry, m)} />}
      </section>
    </main>
  );
}

function ReviewItem({ api, project, entry, onDecided }: { api: Api; project: Project; entry: ReviewEntry; onDecided(message: string): void }) {
  const diff = useMemo(
    () => disagreement(entry.submissions.map((s) => ({ taskId: s.task_id, annotator: s.username, result: s.result }))),
    [entry],
  );
  const [feedback, setFeedback] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [adjudicating, setAdjudicating] = useState<readonly Region[] | null>(null);
  const [base, setBase] = useState(0);

  const send = async (decision: Decision, message: string) => {
    setBusy(true);
    setError(null);
    try {
      await api.request("POST", `/projects/${encodeURIComponent(project.id)}/review-queue/${encodeURIComponent(entry.item.id)}`, decision);
      onDecided(message);
    } catch (e) {
      setError(describeError(e));
      setBusy(false);
    }
  };
  const name = entry.item.external_id ?? entry.item.id;

  if (adjudicating)
    return (
      <Adjudicator
        api={api}
        project={project}
        entry={entry}
        start={adjudicating}
        error={error}
        onCancel={() => {
          setError(null);
          setAdjudicating(null);
        }}
        onSubmit={(result) => void send({ decision: "adjudicate", round: entry.round, result }, `${name}: adjudicated and accepted.`)}
      />
    );
  return (
    <div className="review-item" data-testid="review-detail">
      <header className="review-head">
        <h2 data-testid="review-external-id">{name}</h2>
        <span className="badge">round {entry.round}</span>
        <span className="muted" data-testid="review-reason">
          {entry.reason}
        </span>
        <span className={diff.disputed ? "badge warn" : "badge"} data-testid="disputed-count">
          {diff.disputed} disagreement{diff.disputed === 1 ? "" : "s"}
        </span>
      </header>
      <Versions api={api} project={project} entry={entry} diff={diff} />
      <div className="review-actions">
        <div className="accept-group">
          <strong>Accept a version:</strong>
          {entry.submissions.map((s, i) => (
            <button
              key={s.task_id}
              type="button"
              data-testid={`accept-${s.username}`}
              disabled={busy}
              style={{ borderColor: annotatorColor(i) }}
              onClick={() => void send({ decision: "accept", round: entry.round, task_id: s.task_id }, `${name}: ${s.username}'s version accepted.`)}
            >
              {s.username}
            </button>
          ))}
        </div>
        <div className="adjudicate-group">
          <strong>Correct and adjudicate from</strong>
          <select data-testid="adjudicate-base" value={base} onChange={(e) => setBase(Number(e.target.value))}>
            {entry.submissions.map((s, i) => (
              <option key={s.task_id} value={i}>
                {s.username}
              </option>
            ))}
          </select>
          <button type="button" data-testid="adjudicate" disabled={busy} onClick={() => setAdjudicating(entry.submissions[base]?.result ?? [])}>
            Adjudicate…
          </button>
        </div>
        <div className="reject-group">
          <textarea
            data-testid="reject-feedback"
            placeholder="What is wrong (the annotators see this when they redo the item)"
            value={feedback}
            onChange={(e) => setFeedback(e.target.value)}
            rows={2}
          />
          <button
            type="button"
            data-testid="reject"
            className="danger"
            disabled={busy || !feedback.trim()}
            onClick={() => void send({ decision: "reject", round: entry.round, feedback: feedback.trim() }, `${name}: rejected, back to the annotators.`)}
          >
            Reject with feedback
          </button>
        </div>
        {error && (
          <p className="form-error" role="alert" data-testid="review-error">
            {error}
          </p>
        )}
      </div>
    </div>
  );
}
