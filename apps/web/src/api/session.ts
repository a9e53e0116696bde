import type { AuthResponse, User } from "@turnout/contracts";

/*
 * The signed-in person, held in memory only: the access token lives in this module and the refresh token in
 * the HttpOnly `turnout_refresh` cookie, which JavaScript cannot read. A reload signs in again silently by
 * refreshing with that cookie (POST /api/auth/refresh with `{}`; the browser adds the Origin header).
 */

export type Session =
  | { status: "loading"; user: null }
  | { status: "signedOut"; user: null }
  | { status: "signedIn"; user: User };

let session: Session = { status: "loading", user: null };
let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<() => void>();
const tokenListeners = new Set<(token: string | null) => void>();

function publish(next: Session, token: string | null): void {
  const tokenChanged = token !== accessToken;
  session = next;
  accessToken = token;
  for (const listener of listeners) listener();
  if (tokenChanged) for (const listener of tokenListeners) listener(token);
}

export function getSession(): Session {
  return session;
}

export function getAccessToken(): string | null {
  return accessToken;
}

export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Told whenever the access token changes (the realtime connection re-authenticates with it). */
export function onAccessToken(listener: (token: string | null) => void): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

export function startSession(answer: AuthResponse): void {
  publish({ status: "signedIn", user: answer.user }, answer.accessToken);
}

export function endSession(): void {
  publish({ status: "signedOut", user: null }, null);
}

export function updateSessionUser(user: User): void {
  if (session.status === "signedIn") publish({ status: "signedIn", user }, accessToken);
}

/**
 * Swaps the refresh cookie for a new pair. Concurrent callers share one request: a refresh token is single-use,
 * and presenting it twice would be taken for theft and end the login (auth.token_reused).
 */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const response = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
        credentials: "same-origin",
      });
      if (!response.ok) {
        endSession();
        return false;
      }
      startSession((await response.json()) as AuthResponse);
      return true;
    } catch {
      // Offline: keep whatever we had; the next call tries again.
      if (session.status === "loading") endSession();
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}
