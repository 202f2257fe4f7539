interface Props {
  projectName: string;
  submitted: number;
  onRetry(): void;
  onExit(): void;
}

export function NothingLeft({ projectName, submitted, onRetry, onExit }: Props) {
  return (
    <div className="nothing-left card" data-testid="nothing-left">
      <h2>Nothing left to label</h2>
      <p>
        There are no more tasks for you in {projectName} right now.
        {submitted > 0 && ` You submitted ${submitted} in this session.`}
      </p>
      <button type="button" data-testid="check-again" onClick={onRetry}>
        Check again
      </button>{" "}
      <button type="button" onClick={onExit}>
        Back to projects
      </button>
    </div>
  );
}
