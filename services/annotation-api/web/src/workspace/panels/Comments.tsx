import { useImperativeHandle, useRef, useState, type Ref } from "react";
import { ApiError, type Api } from "../../api/client";
import type { Comment } from "../../api/types";

export interface CommentsHandle {
  focus(): void;
}

interface Props {
  api: Api;
  taskId: string;
  initial: readonly Comment[];
  ref?: Ref<CommentsHandle>;
}

/** Comments on the item for reviewers (and theirs for you): GET/POST /tasks/{id}/comments. */
export function CommentsPanel({ api, taskId, initial, ref }: Props) {
  const [comments, setComments] = useState<readonly Comment[]>(initial);
  const [body, setBody] = useState("");
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  useImperativeHandle(ref, () => ({ focus: () => input.current?.focus() }), []);
  const send = async () => {
    if (!body.trim()) return;
    try {
      const comment = await api.addComment(taskId, body);
      setComments((list) => [...list, comment]);
      setBody("");
      setError(null);
      input.current?.blur();
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : "Could not reach the Annotary server.");
    }
  };
  return (
    <section className="comments" data-testid="comments">
      <h3>Comments ({comments.length})</h3>
      <ul>
        {comments.map((c) => (
          <li key={c.id} data-testid="comment">
            <strong>{c.username ?? "someone"}</strong> <span className="muted">{new Date(c.created_at).toLocaleString()}</span>
            <div className="comment-body">{c.body}</div>
          </li>
        ))}
      </ul>
      <textarea
        ref={input}
        data-testid="comment-input"
        rows={2}
        placeholder="A note for reviewers (C)"
        value={body}
        onChange={(e) => setBody(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            e.stopPropagation();
            void send();
          } else if (e.key === "Escape") input.current?.blur();
        }}
      />
      <button type="button" data-testid="comment-send" disabled={!body.trim()} onClick={() => void send()}>
        Comment <kbd>Ctrl+Enter</kbd>
      </button>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
