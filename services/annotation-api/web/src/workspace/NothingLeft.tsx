interface Props {
  projectName: string;
  submitted: number;
  /** Why the server has nothing for this annotator (e.g. "cap reached"). */
  reason?: string | null;
  onRetry(): void;
  onExit(): void;
}

export function NothingLeft({ projectName, submitted, reason, onRetry, onExit }: Props) {
  return (
    <div className="nothing-left card" data-testid="nothing-left">
      <h2>Nothing left to label</h2>
      <p>
        There are no more tasks for you in {projectName} right now.
        {submitted > 0 && ` You submitted ${submitted} in this session.`}
      </p>
      {reason && reason !== "empty" && <p className="muted">Reason: {reason}</p>}
      <button type="button" data-testid="check-again" onClick={onRetry}>
        Check again
      </button>{" "}
      <button type="button" onClick={onExit}>
        Back to projects
      </button>
    </div>
  );
}
