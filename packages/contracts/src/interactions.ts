import { z } from "zod";

/*
 * Interactions (API.md "Interactions (analytics)"): what the tracker SDK, Segment-compatible SDKs and the
 * collector agree on. An interaction is a page view, a tracked action or an identification; never call one
 * an "event" (that is the thing people attend).
 */

export const INTERACTION_TYPES = ["page", "track", "identify"] as const;
export type InteractionType = (typeof INTERACTION_TYPES)[number];

export const INTERACTION_ID_MAX = 100;
/** The JSON text of `properties` may take at most this many bytes. */
export const INTERACTION_PROPERTIES_MAX_BYTES = 8 * 1024;
export const COLLECT_BATCH_MAX_ITEMS = 500;
export const COLLECT_BODY_MAX_BYTES = 1024 * 1024;

const shortText = (max: number) => z.string().max(max);

export const interactionContextSchema = z.object({
  page: z
    .object({
      path: shortText(2_000),
      url: shortText(4_000).optional(),
      title: shortText(1_000).optional(),
      referrer: shortText(4_000).optional(),
    })
    .optional(),
  userAgent: shortText(1_000).optional(),
  locale: shortText(50).optional(),
  screen: z
    .object({
      width: z.number().int().min(0).max(100_000),
      height: z.number().int().min(0).max(100_000),
    })
    .optional(),
});
export type InteractionContext = z.infer<typeof interactionContextSchema>;

const propertiesSchema = z
  .record(z.string(), z.unknown())
  .refine(
    (value) => new TextEncoder().encode(JSON.stringify(value)).length <= INTERACTION_PROPERTIES_MAX_BYTES,
    {
      message: `must be at most ${INTERACTION_PROPERTIES_MAX_BYTES} bytes of JSON`,
    },
  );

/** One interaction as a client sends it. */
export const interactionSchema = z.object({
  id: z.string().min(1).max(INTERACTION_ID_MAX),
  type: z.enum(INTERACTION_TYPES),
  name: shortText(200).optional(),
  timestamp: z.iso.datetime({ offset: true }),
  anonymousId: z.string().min(1).max(200),
  userId: z.string().min(1).max(200).optional(),
  sessionId: z.string().min(1).max(200).optional(),
  properties: propertiesSchema.optional(),
  context: interactionContextSchema.optional(),
});
export type Interaction = z.infer<typeof interactionSchema>;

/**
 * POST /api/collect. Items are checked one by one by the collector (valid ones are kept, invalid ones reported
 * by index), so the body schema only fixes its shape; past COLLECT_BATCH_MAX_ITEMS the answer is 413.
 */
export const collectBodySchema = z.object({
  writeKey: z.string().min(1).max(200).optional(),
  batch: z.array(z.unknown()),
});
export type CollectBody = z.infer<typeof collectBodySchema>;

export const collectResultSchema = z.object({
  accepted: z.number().int(),
  rejected: z.array(z.object({ index: z.number().int(), code: z.string() })),
});
export type CollectResult = z.infer<typeof collectResultSchema>;

/** What the collector adds to every accepted interaction before it is appended to the stream. */
export const stampedInteractionSchema = interactionSchema.extend({
  sourceId: z.string(),
  receivedAt: z.string(),
  /** The client's address with its last octet (IPv4) or last 80 bits (IPv6) zeroed. */
  ip: z.string().nullable(),
  device: z.string(),
  browser: z.string(),
  os: z.string(),
});
export type StampedInteraction = z.infer<typeof stampedInteractionSchema>;

/** Sources (admin): who may send interactions, each with its write key. */
export const sourceSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  writeKey: z.string(),
  createdAt: z.iso.datetime(),
});
export type Source = z.infer<typeof sourceSchema>;

export const createSourceBodySchema = z.object({ name: z.string().trim().min(1).max(100) });

/** `dashboard:<eventId>` pushes this about once a second while watched (API.md "Real time"). */
export const analyticsTickSchema = z.object({
  eventId: z.uuid(),
  visitorsNow: z.number().int(),
  viewsPerMinute: z.number().int(),
  joinsPerMinute: z.number().int(),
  at: z.iso.datetime(),
});
export type AnalyticsTick = z.infer<typeof analyticsTickSchema>;
export const ANALYTICS_TICK_EVENT = "analytics.tick.v1";
