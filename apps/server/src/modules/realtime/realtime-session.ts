import type { Deps } from "../../deps.ts";
import { type AuthUser, type CurrentUsers, type TokenKeys, verifyAccessToken } from "../auth/index.ts";
import type { ChannelAccess } from "./channel-access.ts";
import type { ChannelHub, FrameKind, Watcher } from "./channel-hub.ts";
import type { MessageBatch } from "./message-batch.ts";
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
  /**
   * Ready-made WebSocket frames of channel messages (a batch's bytes, the same Buffer for many connections).
   * An output without it gets each message through `deliver`.
   */
  deliverWebSocketBytes?(bytes: Buffer): void;
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

/*
 * A class, not a closure per method: ten thousand connections hold one session each, and methods on the
 * prototype cost nothing per connection (ADR 0013, "Fan-out cost").
 */
class Session implements RealtimeSession {
  private readonly watchers = new Map<string, ChannelWatcher>();
  private current: AuthUser | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private isClosed = false;

  constructor(
    private readonly deps: SessionDeps,
    readonly output: SessionOutput,
  ) {}

  get user(): AuthUser | null {
    return this.current;
  }

  async authenticate(token: string): Promise<TokenProblem | null> {
    const verified = verifyAccessToken(this.deps.keys, token, this.deps.clock.now());
    if (!verified.ok) return verified.problem;
    // The role held now, not the one the token was signed with; a deleted account's token is refused.
    const standing = await this.deps.currentUsers.load(verified.user.id);
    if (standing === null) return "auth.invalid_token";
    if (this.isClosed) return null;
    const previous = this.current;
    this.current = { ...verified.user, role: standing.role };
    this.scheduleExpiry(readExpiry(token));
    if (previous !== null && previous.id !== this.current.id) await this.recheckChannels("auth.forbidden");
    return null;
  }

  async subscribe(channel: string, since?: number): Promise<SubscribeOutcome> {
    if (!this.watchers.has(channel) && this.watchers.size >= this.deps.maxSubscriptions) return "too_many";
    if (!(await this.deps.access(this.current, channel))) return "forbidden";
    if (this.isClosed) return "subscribed";
    // Subscribing again restarts the channel from `since` (a client resuming over an open socket).
    this.stopWatching(channel);
    const watcher = new ChannelWatcher(this.output);
    this.watchers.set(channel, watcher);
    this.deps.metrics.subscriptions.inc();
    await this.deps.hub.watch(channel, watcher, since);
    return "subscribed";
  }

  unsubscribe(channel: string): void {
    this.stopWatching(channel);
  }

  positions(): Map<string, number> {
    return new Map([...this.watchers].map(([channel, watcher]) => [channel, watcher.cursor]));
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    for (const channel of [...this.watchers.keys()]) this.stopWatching(channel);
  }

  private stopWatching(channel: string): void {
    const watcher = this.watchers.get(channel);
    if (watcher === undefined) return;
    this.watchers.delete(channel);
    this.deps.hub.unwatch(channel, watcher);
    this.deps.metrics.subscriptions.dec();
  }

  // After the caller changed (new token, or expiry), channels the new caller may not watch are dropped.
  private async recheckChannels(code: string): Promise<void> {
    for (const channel of [...this.watchers.keys()]) {
      if (await this.deps.access(this.current, channel).catch(() => false)) continue;
      this.stopWatching(channel);
      this.output.refuse(code, channel);
    }
  }

  private scheduleExpiry(expiresAtMs: number): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    // setTimeout's delay is a 32-bit number of ms; access tokens live 15 minutes.
    const delay = Math.min(Math.max(0, expiresAtMs - this.deps.clock.now().getTime()), 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      if (this.isClosed) return;
      this.current = null;
      this.output.refuse("auth.token_expired");
      void this.recheckChannels("auth.token_expired");
    }, delay);
    this.expiryTimer.unref();
  }
}

/** The hub's handle on one subscription: its position, and the connection its frames go to. */
class ChannelWatcher implements Watcher {
  cursor = 0;

  constructor(private readonly output: SessionOutput) {}

  deliver(frame: string, kind: FrameKind): void {
    this.output.deliver(frame, kind);
  }

  deliverBatch(batch: MessageBatch): number {
    const first = batch.indexAfter(this.cursor);
    if (this.output.deliverWebSocketBytes !== undefined) {
      this.cursor = batch.lastSeq;
      this.output.deliverWebSocketBytes(batch.webSocketBytesFrom(first));
      return batch.size - first;
    }
    // One message at a time, the cursor on each (an SSE event's id carries the positions).
    for (let index = first; index < batch.size; index++) {
      this.cursor = batch.seqAt(index);
      this.output.deliver(batch.frameAt(index), batch.kindAt(index));
    }
    return batch.size - first;
  }
}

export function createRealtimeSession(deps: SessionDeps, output: SessionOutput): RealtimeSession {
  return new Session(deps, output);
}

// Called only on a token verifyAccessToken accepted, whose payload carries a numeric `exp`.
function readExpiry(token: string): number {
  const payload = token.split(".")[1] ?? "";
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp: number };
  return claims.exp * 1000;
}
