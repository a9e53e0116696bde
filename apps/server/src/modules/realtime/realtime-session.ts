import type { Deps } from "../../deps.ts";
import { type AuthUser, type CurrentUsers, type TokenKeys, verifyAccessToken } from "../auth/index.ts";
import type { ChannelAccess } from "./channel-access.ts";
import type { ChannelHub, FrameKind, Watcher } from "./channel-hub.ts";
import type { RealtimeMetrics } from "./realtime-metrics.ts";

/*
 * One client connection's state, the same for WebSocket and SSE: who it speaks for (until the token expires or
 * is replaced) and the channels it watches. The transport only says how a frame is written.
 */

export type TokenProblem = "auth.invalid_token" | "auth.token_expired";

export interface SessionDeps {
  hub: ChannelHub;
  access: ChannelAccess;
  keys: TokenKeys;
  currentUsers: CurrentUsers;
  clock: Deps["clock"];
  metrics: RealtimeMetrics;
  maxSubscriptions: number;
}

export interface SessionOutput {
  deliver(frame: string, kind: FrameKind): void;
  /** An `error` frame: refusals and problems the client should act on. */
  refuse(code: string, channel?: string): void;
}

export type SubscribeOutcome = "subscribed" | "forbidden" | "too_many";

export interface RealtimeSession {
  readonly user: AuthUser | null;
  /** Sets (or replaces) the token; on a problem the session keeps its previous standing. */
  authenticate(token: string): Promise<TokenProblem | null>;
  subscribe(channel: string, since?: number): Promise<SubscribeOutcome>;
  unsubscribe(channel: string): void;
  /** Positions delivered so far on each watched channel. */
  positions(): Map<string, number>;
  close(): void;
}

export function createRealtimeSession(deps: SessionDeps, output: SessionOutput): RealtimeSession {
  const watchers = new Map<string, Watcher>();
  let user: AuthUser | null = null;
  let expiryTimer: NodeJS.Timeout | null = null;
  let isClosed = false;

  function stopWatching(channel: string): void {
    const watcher = watchers.get(channel);
    if (watcher === undefined) return;
    watchers.delete(channel);
    deps.hub.unwatch(channel, watcher);
    deps.metrics.subscriptions.dec();
  }

  // After the caller changed (new token, or expiry), channels the new caller may not watch are dropped.
  async function recheckChannels(code: string): Promise<void> {
    for (const channel of [...watchers.keys()]) {
      if (await deps.access(user, channel).catch(() => false)) continue;
      stopWatching(channel);
      output.refuse(code, channel);
    }
  }

  function scheduleExpiry(expiresAtMs: number): void {
    if (expiryTimer !== null) clearTimeout(expiryTimer);
    // setTimeout's delay is a 32-bit number of ms; access tokens live 15 minutes.
    const delay = Math.min(Math.max(0, expiresAtMs - deps.clock.now().getTime()), 2 ** 31 - 1);
    expiryTimer = setTimeout(() => {
      expiryTimer = null;
      if (isClosed) return;
      user = null;
      output.refuse("auth.token_expired");
      void recheckChannels("auth.token_expired");
    }, delay);
    expiryTimer.unref();
  }

  return {
    get user() {
      return user;
    },

    async authenticate(token) {
      const verified = verifyAccessToken(deps.keys, token, deps.clock.now());
      if (!verified.ok) return verified.problem;
      // The role held now, not the one the token was signed with; a deleted account's token is refused.
      const standing = await deps.currentUsers.load(verified.user.id);
      if (standing === null) return "auth.invalid_token";
      if (isClosed) return null;
      const previous = user;
      user = { ...verified.user, role: standing.role };
      scheduleExpiry(readExpiry(token));
      if (previous !== null && previous.id !== user.id) await recheckChannels("auth.forbidden");
      return null;
    },

    async subscribe(channel, since) {
      if (!watchers.has(channel) && watchers.size >= deps.maxSubscriptions) return "too_many";
      if (!(await deps.access(user, channel))) return "forbidden";
      if (isClosed) return "subscribed";
      // Subscribing again restarts the channel from `since` (a client resuming over an open socket).
      stopWatching(channel);
      const watcher: Watcher = {
        cursor: 0,
        deliver: (frame, kind) => {
          output.deliver(frame, kind);
        },
      };
      watchers.set(channel, watcher);
      deps.metrics.subscriptions.inc();
      await deps.hub.watch(channel, watcher, since);
      return "subscribed";
    },

    unsubscribe(channel) {
      stopWatching(channel);
    },

    positions() {
      return new Map([...watchers].map(([channel, watcher]) => [channel, watcher.cursor]));
    },

    close() {
      if (isClosed) return;
      isClosed = true;
      if (expiryTimer !== null) clearTimeout(expiryTimer);
      for (const channel of [...watchers.keys()]) stopWatching(channel);
    },
  };
}

// Called only on a token verifyAccessToken accepted, whose payload carries a numeric `exp`.
function readExpiry(token: string): number {
  const payload = token.split(".")[1] ?? "";
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp: number };
  return claims.exp * 1000;
}
