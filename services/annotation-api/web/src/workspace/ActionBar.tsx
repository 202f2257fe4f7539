import { ErrorPanel } from "./ErrorPanel";
import type { ActionError } from "./useTaskQueue";

interface Props {
  busy: boolean;
  error: ActionError | null;
  onSubmit(): void;
  onSkip(): void;
  onFlag: (() => void) | null;
  onNext(): void;
}

export function ActionBar({ busy, error, onSubmit, onSkip, onFlag, onNext }: Props) {
  return (
    <div className="action-bar">
      <button type="button" className="primary" data-testid="submit" disabled={busy} onClick={onSubmit}>
        Submit <kbd>Enter</kbd>
      </button>
      <button type="button" data-testid="skip" disabled={busy} onClick={onSkip}>
        Skip
      </button>
      {onFlag && (
        <button type="button" data-testid="flag" onClick={onFlag} title="Flag this item as ambiguous (Shift+F)">
          Flag…
        </button>
      )}
      {error && <ErrorPanel error={error} onNext={onNext} />}
    </div>
  );
}
