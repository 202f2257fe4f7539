import { useState, type FormEvent } from "react";
import { ApiError, type Api } from "../api/client";

interface Props {
  api: Api;
  taskId: string;
  onClose(): void;
  onFlagged(reason: string): void;
}

/** Flag the item as ambiguous, with a reason for the reviewers (POST /tasks/{id}/flag). */
export function FlagDialog({ api, taskId, onClose, onFlagged }: Props) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    setBusy(true);
    try {
      await api.flag(taskId, reason);
      onFlagged(reason.trim());
    } catch (err) {
      setError(err instanceof ApiError ? err.detail : "Could not reach the Annotary server.");
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-label="Flag as ambiguous" onClick={onClose}>
      <form className="card flag-dialog" onClick={(e) => e.stopPropagation()} onSubmit={send}>
        <h2>Flag as ambiguous</h2>
        <label htmlFor="flag-reason">What makes this item ambiguous?</label>
        <textarea
          id="flag-reason"
          data-testid="flag-reason"
          autoFocus
          rows={4}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              e.stopPropagation();
              void send();
            }
          }}
        />
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="row">
          <button type="submit" className="primary" data-testid="flag-send" disabled={busy || !reason.trim()}>
            Flag <kbd>Ctrl+Enter</kbd>
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}
