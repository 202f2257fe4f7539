import { useCallback, useEffect, useState } from "react";
import { ApiError, createApi, type Api } from "../api/client";
import type { Me } from "../api/types";
import { clearToken, loadToken, saveToken } from "./tokenStore";

export type Session =
  | { status: "checking" }
  | { status: "signed-out"; message?: string }
  | { status: "signed-in"; me: Me; api: Api };

export interface SessionControls {
  session: Session;
  /** Validates the token with GET /me and keeps it; resolves to an error message, or null on success. */
  signIn(token: string): Promise<string | null>;
  signOut(message?: string): void;
}

export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.status === 401 ? "This token is not valid." : e.detail;
  return "Could not reach the Annotary server.";
}

export function useSession(fetchImpl?: typeof fetch): SessionControls {
  const [session, setSession] = useState<Session>(() => (loadToken() ? { status: "checking" } : { status: "signed-out" }));

  const signOut = useCallback((message?: string) => {
    clearToken();
    setSession(message ? { status: "signed-out", message } : { status: "signed-out" });
  }, []);

  const verify = useCallback(
    async (token: string) => {
      let checked = false;
      const api = createApi({
        token,
        ...(fetchImpl ? { fetch: fetchImpl } : {}),
        // a 401 after sign-in means the token was revoked or expired
        onUnauthorized: () => checked && signOut("Your session has ended. Sign in again."),
      });
      const me = await api.me();
      checked = true;
      saveToken(token);
      setSession({ status: "signed-in", me, api });
    },
    [fetchImpl, signOut],
  );

  useEffect(() => {
    const stored = loadToken();
    if (!stored) return;
    verify(stored).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 401) clearToken();
      setSession({ status: "signed-out", message: describeError(e) });
    });
  }, [verify]);

  const signIn = useCallback(
    async (token: string) => {
      const trimmed = token.trim();
      if (!trimmed) return "Enter your API token.";
      try {
        await verify(trimmed);
        return null;
      } catch (e) {
        return describeError(e);
      }
    },
    [verify],
  );

  return { session, signIn, signOut };
}
