import type { ActionError } from "./useTaskQueue";

interface Props {
  error: ActionError;
  onNext(): void;
}

/** The server's answer to a failed submit or skip: `detail` and each violation's message. */
export function ErrorPanel({ error, onNext }: Props) {
  return (
    <div className="error-panel" role="alert" data-testid="error">
      <strong>{error.detail}</strong>
      {error.violations.length > 0 && (
        <ul>
          {error.violations.map((v, i) => (
            <li key={i} data-testid="violation">
              {v.message}
              {typeof v.region_index === "number" && <span className="muted"> (region {v.region_index + 1})</span>}
            </li>
          ))}
        </ul>
      )}
      {error.status === 409 && (
        <button type="button" onClick={onNext}>
          Get the next task
        </button>
      )}
    </div>
  );
}
