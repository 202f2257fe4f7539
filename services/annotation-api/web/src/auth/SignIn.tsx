import { useState, type FormEvent } from "react";

interface Props {
  message?: string | undefined;
  onSignIn(token: string): Promise<string | null>;
}

export function SignIn({ message, onSignIn }: Props) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(await onSignIn(token));
    setBusy(false);
  };

  return (
    <main className="sign-in">
      <form onSubmit={submit} className="card">
        <h1>Annotary</h1>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          data-testid="token-input"
          type="password"
          autoComplete="off"
          spellCheck={false}
          autoFocus
          value={token}
          onChange={(e) => setToken(e.target.value)}
        />
        <button type="submit" className="primary" data-testid="sign-in" disabled={busy}>
          Sign in
        </button>
        {(error ?? message) && (
          <p className="form-error" role="alert" data-testid="sign-in-error">
            {error ?? message}
          </p>
        )}
      </form>
    </main>
  );
}
