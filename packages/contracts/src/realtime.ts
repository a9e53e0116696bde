import { z } from "zod";

/*
 * The real-time protocol (API.md "Real time"): the frames a WebSocket client and the gateway exchange, the
 * channel names, and the SSE resume id. Server and clients (web app, tests, benches) parse the same schemas.
 */

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const CHANNEL_PATTERN = new RegExp(`^(?:events|(?:event|user|dashboard):${UUID})$`);

/** `events`, `event:<id>`, `user:<id>` or `dashboard:<eventId>` (ids are lowercase UUIDs). */
export const channelSchema = z.string().max(100).regex(CHANNEL_PATTERN);
export type ChannelName = z.infer<typeof channelSchema>;

export type ChannelKind = "events" | "event" | "user" | "dashboard";

/** The kind and id of a channel name that passed `channelSchema`. */
export function parseChannel(channel: string): { kind: ChannelKind; id: string | null } {
  if (channel === "events") return { kind: "events", id: null };
  const [kind = "", id = ""] = channel.split(":");
  return { kind: kind as ChannelKind, id };
}

/** Sequence numbers start at 1 on every channel; 0 means "nothing seen yet". */
export const sequenceSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const clientFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("subscribe"), channel: channelSchema, since: sequenceSchema.optional() }),
  z.object({ type: z.literal("unsubscribe"), channel: channelSchema }),
  z.object({ type: z.literal("ping") }),
  z.object({ type: z.literal("auth"), token: z.string().min(1).max(4096) }),
]);
export type ClientFrame = z.infer<typeof clientFrameSchema>;

/** A domain message as a channel carries it: its versioned type and its data (API.md lists the shapes). */
export const channelEventSchema = z.object({ type: z.string(), data: z.unknown() });
export type ChannelEvent = z.infer<typeof channelEventSchema>;

export const REALTIME_ERROR_CODES = [
  "message.invalid",
  "auth.forbidden",
  "auth.invalid_token",
  "auth.token_expired",
  "rate_limited",
] as const;

export const serverFrameSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("message"),
    channel: z.string(),
    seq: z.number().int(),
    event: channelEventSchema,
  }),
  z.object({ type: z.literal("subscribed"), channel: z.string(), seq: z.number().int() }),
  z.object({ type: z.literal("reset"), channel: z.string() }),
  z.object({ type: z.literal("error"), code: z.enum(REALTIME_ERROR_CODES), channel: z.string().optional() }),
  z.object({ type: z.literal("pong") }),
]);
export type ServerFrame = z.infer<typeof serverFrameSchema>;

/** WebSocket close codes the gateway uses beyond the standard ones (1009: a frame above the size limit). */
export const REALTIME_CLOSE_CODES = {
  /** The client read too slowly: its send buffer passed the limit. Reconnect and resume with `since`. */
  slowClient: 4008,
  /** The server is shutting down; reconnect (to another node) and resume. */
  goingAway: 1001,
} as const;

/**
 * The SSE `id`: the position on every channel of the stream, so `Last-Event-ID` resumes all of them.
 * `channel=seq` pairs joined by `,` (channel names contain neither `=` nor `,`).
 */
export function encodeSsePositions(positions: ReadonlyMap<string, number>): string {
  return [...positions].map(([channel, seq]) => `${channel}=${seq}`).join(",");
}

/** Positions read from a `Last-Event-ID`; entries that are not `<channel>=<seq>` are ignored. */
export function decodeSsePositions(id: string): Map<string, number> {
  const positions = new Map<string, number>();
  for (const entry of id.split(",")) {
    const [channel = "", seq = ""] = entry.split("=");
    if (channelSchema.safeParse(channel).success && /^\d{1,15}$/.test(seq))
      positions.set(channel, Number(seq));
  }
  return positions;
}
