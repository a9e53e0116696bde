import { clientFrameSchema, REALTIME_CLOSE_CODES } from "@turnout/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { WebSocket } from "@fastify/websocket";
import type { RawData } from "ws";
import { z } from "zod";
import { AppError, errorResponses } from "../../platform/errors.ts";
import type { FrameKind } from "./channel-hub.ts";
import { webSocketFrame } from "./message-batch.ts";
import { createConnectionRateLimit } from "./connection-rate.ts";
import {
  createRealtimeSession,
  type RealtimeSession,
  type SessionDeps,
  type SessionOutput,
} from "./realtime-session.ts";
import { registerSseRoute } from "./sse.routes.ts";

export interface RealtimeRouteOptions {
  session: SessionDeps;
  sendBufferBytes: number;
  heartbeatMs: number;
  connectionsPerMinute: number;
}

const tokenQuerySchema = z.object({
  token: z
    .string()
    .max(4096)
    .optional()
    .describe("An access token (EventSource and browsers' WebSocket send no headers); optional"),
});

// A slow client gets its close frame this long to leave politely, then its socket is cut.
const CLOSE_GRACE_MS = 1_000;
// A ping without payload (RFC 6455 5.5.2): the same two bytes for every connection.
const PING_FRAME = Buffer.from([0x89, 0x00]);
// Connections pinged before the heartbeat sweep lets other work run.
const CONNECTIONS_PER_SLICE = 1_000;

/** GET /api/realtime (WebSocket) and its SSE twin, API.md "Real time". */
export function registerRealtimeRoutes(app: FastifyInstance, options: RealtimeRouteOptions): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const isOverRate = createConnectionRateLimit(options.connectionsPerMinute);
  const limitConnections = (request: FastifyRequest): void => {
    const retryAfter = isOverRate(request.ip);
    if (retryAfter !== null) {
      throw new AppError("rate_limited", "Too many new connections; try again later.", undefined, {
        "retry-after": String(retryAfter),
      });
    }
  };
  // Every open socket and its connection; also what the one heartbeat sweep walks (no timer per connection).
  const connections = new Map<WebSocket, SocketConnection>();
  const heartbeat = setInterval(() => {
    void sweepHeartbeat(connections);
  }, options.heartbeatMs);
  heartbeat.unref();
  app.addHook("onClose", () => {
    clearInterval(heartbeat);
    for (const socket of connections.keys()) socket.close(REALTIME_CLOSE_CODES.goingAway, "server closing");
  });
  // One set of listener functions for all sockets (`this` is the socket), not closures per connection.
  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    connections.get(this)?.receive(data, isBinary);
  }
  function onPong(this: WebSocket): void {
    const connection = connections.get(this);
    if (connection !== undefined) connection.isAlive = true;
  }
  function onGone(this: WebSocket): void {
    connections.get(this)?.finish();
    connections.delete(this);
  }

  api.route({
    method: "GET",
    url: "/api/realtime",
    schema: {
      tags: ["realtime"],
      summary: "The real-time gateway: a WebSocket upgrade (the protocol is in API.md, 'Real time')",
      description:
        "Send `Connection: Upgrade` and `Upgrade: websocket`. Client frames: subscribe, unsubscribe, ping, auth. " +
        "Server frames: message, subscribed, reset, error, pong. Without an upgrade the answer is 400.",
      querystring: tokenQuerySchema,
      response: {
        101: z.null().describe("Switching Protocols: the WebSocket is open"),
        ...errorResponses(400, 429),
      },
    },
    onRequest: (request, _reply, done) => {
      limitConnections(request);
      done();
    },
    handler: () => {
      throw new AppError("request.malformed", "This route takes a WebSocket upgrade.");
    },
    wsHandler: (socket, request) => {
      releaseUpgradeRequest(socket, request.raw);
      const connection = new SocketConnection(socket, request.raw.socket, options);
      connections.set(socket, connection);
      socket.on("message", onMessage);
      socket.on("pong", onPong);
      socket.on("close", onGone);
      socket.on("error", onGone);
      if (request.query.token !== undefined) connection.authenticate(request.query.token);
    },
  });

  registerSseRoute(app, {
    session: options.session,
    sendBufferBytes: options.sendBufferBytes,
    heartbeatMs: options.heartbeatMs,
    limitConnections,
  });
}

/*
 * After the upgrade nothing needs the HTTP request, but two references would keep it, with Fastify's request,
 * reply and child logger, alive as long as the socket (about 3 KiB per connection): @fastify/websocket's error
 * listener closes over them, and the TCP socket still points at the response that carried the upgrade.
 */
function releaseUpgradeRequest(socket: WebSocket, request: IncomingMessage): void {
  socket.removeAllListeners("error");
  const tcp = request.socket as Socket & { _httpMessage?: ServerResponse | null };
  tcp._httpMessage?.detachSocket(tcp);
}

/** One WebSocket client: its session and how frames are written to it. */
class SocketConnection implements SessionOutput {
  isAlive = true;
  private isOpen = true;
  private readonly session: RealtimeSession;
  // Frames are handled one at a time, in order: an `auth` takes effect before the `subscribe` behind it.
  private handling: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: WebSocket,
    // The TCP socket under it: frames are written to it ready-made (see deliverWebSocketBytes).
    private readonly tcp: Socket,
    private readonly options: RealtimeRouteOptions,
  ) {
    options.session.metrics.connections.inc();
    this.session = createRealtimeSession(options.session, this);
  }

  deliver(frame: string, _kind: FrameKind): void {
    this.send(frame);
  }

  refuse(code: string, channel?: string): void {
    this.send(JSON.stringify({ type: "error", code, channel }));
  }

  /*
   * A batch of channel messages as WebSocket frames, the same Buffer for every connection that watches the
   * channel (message-batch.ts). ws's send() would build a header, two option objects and a two-buffer write per
   * client. Writing beside ws is safe here because ws never holds frames back on these sockets: compression is
   * off and nothing sends blobs or fragments, so its own writes (ping, close) go out in call order too.
   */
  deliverWebSocketBytes(bytes: Buffer): void {
    if (this.mayWrite()) this.tcp.write(bytes);
  }

  send(frame: string): void {
    if (this.mayWrite()) this.tcp.write(webSocketFrame(frame));
  }

  private mayWrite(): boolean {
    if (!this.isOpen || this.socket.readyState !== this.socket.OPEN) return false;
    // What the kernel has not taken yet (the same figure as ws's bufferedAmount without compression).
    if (this.tcp.writableLength <= this.options.sendBufferBytes) return true;
    this.dropSlowClient();
    return false;
  }

  authenticate(token: string): void {
    this.handle(() => authenticate(this.session, token, this));
  }

  receive(data: RawData, isBinary: boolean): void {
    const frame = isBinary ? null : parseFrame(data);
    this.handle(() => handleFrame(this.session, frame, this));
  }

  heartbeat(): void {
    if (!this.isAlive) {
      this.socket.terminate();
      return;
    }
    this.isAlive = false;
    // Written like channel messages, beside ws; ws still reads the pong and emits it (onPong).
    if (this.mayWrite()) this.tcp.write(PING_FRAME);
  }

  finish(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.session.close();
    this.options.session.metrics.connections.dec();
  }

  private handle(task: () => Promise<void>): void {
    this.handling = this.handling.then(task).catch(() => {
      this.send(JSON.stringify({ type: "error", code: "message.invalid" }));
    });
  }

  private dropSlowClient(): void {
    this.options.session.metrics.slowClientsDropped.inc();
    this.finish();
    this.socket.close(REALTIME_CLOSE_CODES.slowClient, "send buffer full");
    const socket = this.socket;
    setTimeout(() => {
      socket.terminate();
    }, CLOSE_GRACE_MS).unref();
  }
}

// Pings every connection (and cuts those that did not answer the last ping), a slice at a time.
async function sweepHeartbeat(connections: Map<WebSocket, SocketConnection>): Promise<void> {
  let inSlice = 0;
  for (const connection of connections.values()) {
    connection.heartbeat();
    if (++inSlice < CONNECTIONS_PER_SLICE) continue;
    inSlice = 0;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function parseFrame(data: RawData): unknown {
  try {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(new Uint8Array(data));
    const text = bytes.toString("utf8");
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function handleFrame(session: RealtimeSession, raw: unknown, connection: Sender): Promise<void> {
  const send = (frame: string) => {
    connection.send(frame);
  };
  const parsed = clientFrameSchema.safeParse(raw);
  if (!parsed.success) {
    const channel = readChannel(raw);
    send(
      JSON.stringify({
        type: "error",
        code: "message.invalid",
        ...(channel === undefined ? {} : { channel }),
      }),
    );
    return;
  }
  const frame = parsed.data;
  switch (frame.type) {
    case "ping":
      send(JSON.stringify({ type: "pong" }));
      return;
    case "auth":
      await authenticate(session, frame.token, connection);
      return;
    case "unsubscribe":
      session.unsubscribe(frame.channel);
      return;
    case "subscribe": {
      const outcome = await session.subscribe(frame.channel, frame.since);
      if (outcome === "forbidden")
        send(JSON.stringify({ type: "error", code: "auth.forbidden", channel: frame.channel }));
      if (outcome === "too_many")
        send(JSON.stringify({ type: "error", code: "rate_limited", channel: frame.channel }));
      return;
    }
  }
}

interface Sender {
  send(frame: string): void;
}

async function authenticate(session: RealtimeSession, token: string, connection: Sender): Promise<void> {
  const problem = await session.authenticate(token);
  if (problem !== null) connection.send(JSON.stringify({ type: "error", code: problem }));
}

// An invalid frame that names a channel (a string of sane length) gets its error about that channel.
function readChannel(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null || !("channel" in raw)) return undefined;
  const channel = raw.channel;
  return typeof channel === "string" && channel.length <= 100 ? channel : undefined;
}
