import { channelSchema, decodeSsePositions, encodeSsePositions } from "@turnout/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError, errorResponses } from "../../platform/errors.ts";
import type { FrameKind } from "./channel-hub.ts";
import { createRealtimeSession, type SessionDeps } from "./realtime-session.ts";

export interface SseRouteOptions {
  session: SessionDeps;
  sendBufferBytes: number;
  heartbeatMs: number;
  limitConnections: (request: FastifyRequest) => void;
}

const sseQuerySchema = z.object({
  channels: z
    .string()
    .min(1)
    .max(4096)
    .describe("Comma-separated channels: events, event:<id>, user:<id>, dashboard:<eventId>"),
  token: z.string().max(4096).optional().describe("An access token (EventSource sends no headers); optional"),
});

const sseHeadersSchema = z.object({
  "last-event-id": z
    .string()
    .max(8192)
    .optional()
    .describe("The id of the last event received: resumes every channel of the stream where it stopped"),
});

const EVENT_STREAM = z.string().meta({
  description: "A text/event-stream: one SSE event per frame, named by its type, the frame's JSON as data",
  content: { "text/event-stream": { schema: { type: "string" } } },
});

/** GET /api/realtime/sse: the same channels as the WebSocket, one way, resumable with Last-Event-ID. */
export function registerSseRoute(app: FastifyInstance, options: SseRouteOptions): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { metrics } = options.session;
  // A stream never ends by itself; closing the server ends each one (the client reconnects elsewhere).
  const streams = new Set<{ end(): void }>();
  app.addHook("preClose", (done) => {
    for (const stream of streams) stream.end();
    done();
  });
  api.get(
    "/api/realtime/sse",
    {
      schema: {
        tags: ["realtime"],
        summary: "Server-sent events of the given channels (the WebSocket's twin)",
        querystring: sseQuerySchema,
        headers: sseHeadersSchema,
        response: { 200: EVENT_STREAM, ...errorResponses(400, 401, 403, 429) },
      },
      onRequest: (request, _reply, done) => {
        options.limitConnections(request);
        done();
      },
    },
    async (request, reply) => {
      const channels = parseChannels(request.query.channels, options.session.maxSubscriptions);
      const since = decodeSsePositions(request.headers["last-event-id"] ?? "");
      const positions = new Map(since);
      let isOpen = true;
      const raw = reply.raw;
      const write = (chunk: string): void => {
        if (!isOpen) return;
        if (raw.writableLength > options.sendBufferBytes) {
          metrics.slowClientsDropped.inc();
          raw.destroy();
          return;
        }
        raw.write(chunk);
      };
      const session = createRealtimeSession(options.session, {
        deliver: (frame: string, kind: FrameKind) => {
          for (const [channel, seq] of session.positions()) if (seq > 0) positions.set(channel, seq);
          const name = kind.type === "message" ? kind.eventType : kind.type;
          write(`id: ${encodeSsePositions(positions)}\nevent: ${name}\ndata: ${frame}\n\n`);
        },
        refuse: (code, channel) => {
          write(`event: error\ndata: ${JSON.stringify({ type: "error", code, channel })}\n\n`);
          // A stream cannot take a fresh token: it ends, and the client reconnects with one and Last-Event-ID.
          if (code === "auth.token_expired") raw.end();
        },
      });
      const token = request.query.token;
      if (token !== undefined) {
        const problem = await session.authenticate(token);
        if (problem !== null) throw new AppError(problem, "The token is not valid.");
      }
      for (const channel of channels) {
        if (!(await options.session.access(session.user, channel))) {
          session.close();
          throw new AppError("auth.forbidden", `You may not watch ${channel}.`, { channel });
        }
      }
      void reply.hijack();
      raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      metrics.connections.inc();
      const keepAlive = setInterval(() => {
        write(": keep-alive\n\n");
      }, options.heartbeatMs);
      streams.add(raw);
      raw.on("close", () => {
        streams.delete(raw);
        isOpen = false;
        clearInterval(keepAlive);
        session.close();
        metrics.connections.dec();
      });
      for (const channel of channels) await session.subscribe(channel, since.get(channel));
    },
  );
}

function parseChannels(list: string, max: number): string[] {
  const channels = [...new Set(list.split(","))];
  const bad = channels.filter((channel) => !channelSchema.safeParse(channel).success);
  if (bad.length > 0 || channels.length > max) {
    throw new AppError("validation.failed", "The request is not valid.", [
      {
        path: "channels",
        message:
          bad.length > 0
            ? `not a channel: ${bad.slice(0, 5).join(", ")}`
            : `at most ${max} channels per stream`,
      },
    ]);
  }
  return channels;
}
