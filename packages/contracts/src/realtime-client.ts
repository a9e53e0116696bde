import { type ChannelEvent, serverFrameSchema } from "./realtime.ts";

/*
 * A small client of the real-time gateway for the web app, tests and benches; browser and Node alike (it only
 * needs a WebSocket constructor: the global one, or `ws` on Node 20). It reconnects with jittered exponential
 * backoff, resumes every channel from the last position it delivered (so a reconnect neither loses nor
 * repeats a message), and takes a fresh token without reconnecting.
 */

/** The part of the WebSocket API the client uses (the browser's and `ws`'s both have it). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type SocketConstructor = new (url: string) => SocketLike;

export interface ChannelMessageHandler {
  (event: ChannelEvent, seq: number): void;
}

export interface ChannelHooks {
  /** The history since the last position is gone: refetch the state this channel describes. */
  onReset?: () => void;
  /** The gateway refused the channel (`auth.forbidden`, or a limit). */
  onRefused?: (code: string) => void;
}

export interface RealtimeClientOptions {
  /** `ws(s)://host/api/realtime`. */
  url: string;
  /** The access token to send on each (re)connect; null or undefined: anonymous. */
  getToken?: () => string | null | undefined;
  WebSocket?: SocketConstructor;
  /** Reconnect delays: a random wait up to firstMs * 2^attempt, capped at maxMs. */
  backoff?: { firstMs: number; maxMs: number };
  /** Errors not about one channel (`auth.token_expired`, `message.invalid`...). */
  onError?: (code: string) => void;
  /** Told each time the connection opens or drops. */
  onConnectionChange?: (isConnected: boolean) => void;
}

export interface RealtimeClient {
  /** Watches `channel` until the returned function is called; resumes from `since` when given. */
  subscribe(
    channel: string,
    handler: ChannelMessageHandler,
    hooks?: ChannelHooks,
    since?: number,
  ): () => void;
  /** Replaces the token on the open connection (and for later reconnects through getToken). */
  setToken(token: string): void;
  /** The last position delivered on each channel. */
  positions(): Map<string, number>;
  /** Drops the connection as if the network failed; the client reconnects and resumes (for tests). */
  dropConnection(): void;
  close(): void;
}

interface Channel {
  handler: ChannelMessageHandler;
  hooks: ChannelHooks;
  /** Last position delivered to the handler; undefined before the first `subscribed`. */
  seq: number | undefined;
}

const OPEN = 1;
const DEFAULT_BACKOFF = { firstMs: 250, maxMs: 10_000 };

export function createRealtimeClient(options: RealtimeClientOptions): RealtimeClient {
  const found = options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
  if (found === undefined)
    throw new Error("No WebSocket constructor: pass options.WebSocket (e.g. from 'ws').");
  const Socket: SocketConstructor = found;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const channels = new Map<string, Channel>();
  let socket: SocketLike | null = null;
  let token: string | null | undefined;
  let attempt = 0;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let isClosed = false;

  function send(frame: object): void {
    if (socket !== null && socket.readyState === OPEN) socket.send(JSON.stringify(frame));
  }

  function sendSubscribe(name: string, channel: Channel): void {
    send({ type: "subscribe", channel: name, ...(channel.seq === undefined ? {} : { since: channel.seq }) });
  }

  function connect(): void {
    reconnectTimer = null;
    if (isClosed) return;
    const current = new Socket(options.url);
    socket = current;
    current.onopen = () => {
      options.onConnectionChange?.(true);
      token = options.getToken?.() ?? token;
      if (token !== null && token !== undefined) send({ type: "auth", token });
      for (const [name, channel] of channels) sendSubscribe(name, channel);
    };
    current.onmessage = (event) => {
      receive(event.data);
    };
    current.onerror = () => undefined;
    current.onclose = () => {
      if (socket !== current) return;
      socket = null;
      options.onConnectionChange?.(false);
      scheduleReconnect();
    };
  }

  function scheduleReconnect(): void {
    if (isClosed || reconnectTimer !== null) return;
    const ceiling = Math.min(backoff.maxMs, backoff.firstMs * 2 ** Math.min(attempt, 20));
    attempt++;
    reconnectTimer = setTimeout(connect, Math.random() * ceiling);
  }

  function receive(data: unknown): void {
    let json: unknown;
    try {
      json = JSON.parse(typeof data === "string" ? data : String(data));
    } catch {
      return;
    }
    const parsed = serverFrameSchema.safeParse(json);
    if (!parsed.success) return;
    const frame = parsed.data;
    if (frame.type === "pong") return;
    if (frame.type === "error") {
      const channel = frame.channel === undefined ? undefined : channels.get(frame.channel);
      if (channel === undefined) options.onError?.(frame.code);
      else channel.hooks.onRefused?.(frame.code);
      return;
    }
    const channel = channels.get(frame.channel);
    if (channel === undefined) return;
    if (frame.type === "subscribed") {
      attempt = 0;
      channel.seq = Math.max(channel.seq ?? 0, frame.seq);
    } else if (frame.type === "reset") {
      channel.seq = undefined;
      channel.hooks.onReset?.();
    } else if (channel.seq === undefined || frame.seq > channel.seq) {
      channel.seq = frame.seq;
      channel.handler(frame.event, frame.seq);
    }
  }

  connect();

  return {
    subscribe(name, handler, hooks = {}, since) {
      const channel: Channel = { handler, hooks, seq: since };
      channels.set(name, channel);
      sendSubscribe(name, channel);
      return () => {
        if (channels.get(name) !== channel) return;
        channels.delete(name);
        send({ type: "unsubscribe", channel: name });
      };
    },
    setToken(fresh) {
      token = fresh;
      send({ type: "auth", token: fresh });
    },
    positions() {
      const positions = new Map<string, number>();
      for (const [name, channel] of channels) if (channel.seq !== undefined) positions.set(name, channel.seq);
      return positions;
    },
    dropConnection() {
      socket?.close(4000, "dropped by the client");
    },
    close() {
      isClosed = true;
      if (reconnectTimer !== null) clearTimeout(reconnectTimer);
      socket?.close(1000, "closed by the client");
      socket = null;
    },
  };
}
