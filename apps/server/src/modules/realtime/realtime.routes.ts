import { clientFrameSchema, REALTIME_CLOSE_CODES } from "@turnout/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { WebSocket } from "@fastify/websocket";
import type { RawData } from "ws";
import { z } from "zod";
import { AppError, errorResponses } from "../../platform/errors.ts";
import type { FrameKind } from "./channel-hub.ts";
import { createConnectionRateLimit } from "./connection-rate.ts";
import { createRealtimeSession, type RealtimeSession, type SessionDeps } from "./realtime-session.ts";
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
  const sockets = new Set<{ socket: WebSocket; isAlive: boolean }>();
  const heartbeat = setInterval(() => {
    for (const peer of sockets) {
      if (!peer.isAlive) {
        peer.socket.terminate();
        continue;
      }
      peer.isAlive = false;
      peer.socket.ping();
    }
  }, options.heartbeatMs);
  heartbeat.unref();
  app.addHook("onClose", () => {
    clearInterval(heartbeat);
    for (const peer of sockets) peer.socket.close(REALTIME_CLOSE_CODES.goingAway, "server closing");
  });

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
      const peer = { socket, isAlive: true };
      sockets.add(peer);
      socket.on("pong", () => {
        peer.isAlive = true;
      });
      serveSocket(socket, request.query.token, options);
      socket.on("close", () => sockets.delete(peer));
    },
  });

  registerSseRoute(app, {
    session: options.session,
    sendBufferBytes: options.sendBufferBytes,
    heartbeatMs: options.heartbeatMs,
    limitConnections,
  });
}

function serveSocket(socket: WebSocket, queryToken: string | undefined, options: RealtimeRouteOptions): void {
  const { metrics } = options.session;
  metrics.connections.inc();
  let isOpen = true;
  const send = (frame: string): void => {
    if (!isOpen) return;
    if (socket.bufferedAmount > options.sendBufferBytes) {
      dropSlowClient();
      return;
    }
    socket.send(encodeOnce(frame), { binary: false });
  };
  const dropSlowClient = (): void => {
    metrics.slowClientsDropped.inc();
    finish();
    socket.close(REALTIME_CLOSE_CODES.slowClient, "send buffer full");
    setTimeout(() => {
      socket.terminate();
    }, CLOSE_GRACE_MS).unref();
  };
  const session: RealtimeSession = createRealtimeSession(options.session, {
    deliver: (frame: string, _kind: FrameKind) => {
      send(frame);
    },
    refuse: (code, channel) => {
      send(JSON.stringify({ type: "error", code, channel }));
    },
  });
  const finish = (): void => {
    if (!isOpen) return;
    isOpen = false;
    session.close();
    metrics.connections.dec();
  };
  // Frames are handled one at a time, in order: an `auth` takes effect before the `subscribe` behind it.
  let handling: Promise<void> = Promise.resolve();
  const handle = (task: () => Promise<void>): void => {
    handling = handling.then(task).catch(() => {
      send(JSON.stringify({ type: "error", code: "message.invalid" }));
    });
  };
  if (queryToken !== undefined) handle(() => authenticate(session, queryToken, send));
  socket.on("message", (data: RawData, isBinary: boolean) => {
    const frame = isBinary ? null : parseFrame(data);
    handle(() => handleFrame(session, frame, send));
  });
  socket.on("close", finish);
  socket.on("error", finish);
}

// A channel message goes to every watcher as the same string: encode it once, not once per socket.
let lastEncoded: { frame: string; bytes: Buffer } = { frame: "", bytes: Buffer.alloc(0) };
function encodeOnce(frame: string): Buffer {
  if (lastEncoded.frame !== frame) lastEncoded = { frame, bytes: Buffer.from(frame, "utf8") };
  return lastEncoded.bytes;
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

async function handleFrame(
  session: RealtimeSession,
  raw: unknown,
  send: (frame: string) => void,
): Promise<void> {
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
      await authenticate(session, frame.token, send);
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

async function authenticate(
  session: RealtimeSession,
  token: string,
  send: (frame: string) => void,
): Promise<void> {
  const problem = await session.authenticate(token);
  if (problem !== null) send(JSON.stringify({ type: "error", code: problem }));
}

// An invalid frame that names a channel (a string of sane length) gets its error about that channel.
function readChannel(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null || !("channel" in raw)) return undefined;
  const channel = raw.channel;
  return typeof channel === "string" && channel.length <= 100 ? channel : undefined;
}
