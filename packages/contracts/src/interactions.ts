import { z } from "zod";
import { boundedIntParam } from "./numbers.ts";

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

/** The stamps alone: since stream format 2 they travel once per message, not once per item (ADR 0015). */
export const interactionStampSchema = stampedInteractionSchema.pick({
  sourceId: true,
  receivedAt: true,
  ip: true,
  device: true,
  browser: true,
  os: true,
});
export type InteractionStamp = z.infer<typeof interactionStampSchema>;

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

// ---- Queries (API.md "Interactions (analytics) — queries") ----------------------------------------------

const FIRST_INSTANT = Date.parse("1000-01-01T00:00:00Z");
const LAST_INSTANT = Date.parse("9999-12-31T23:59:59.999Z");
const analyticsInstantSchema = z.iso.datetime({ offset: true }).pipe(
  z.string().refine((value) => {
    const time = Date.parse(value);
    return time >= FIRST_INSTANT && time <= LAST_INSTANT;
  }, "must fall between the years 1000 and 9999 (UTC)"),
);

/** Every analytics query: a time range (default: the last 24 hours) and, for organizers, their event. */
const rangeQuery = {
  from: analyticsInstantSchema.optional(),
  to: analyticsInstantSchema.optional(),
  eventId: z.uuid().optional(),
};

export const interactionListQuerySchema = z.object({
  ...rangeQuery,
  source: z.uuid().optional(),
  type: z.enum(INTERACTION_TYPES).optional(),
  name: z.string().min(1).max(200).optional(),
  path: z.string().min(1).max(2_000).optional(),
  userId: z.string().min(1).max(200).optional(),
  sessionId: z.string().min(1).max(200).optional(),
  cursor: z.string().min(1).max(500).optional(),
  limit: boundedIntParam(1, 100).default(20),
});
export type InteractionListQuery = z.infer<typeof interactionListQuerySchema>;

/** An interaction as the query API shows it. */
export const storedInteractionSchema = z.object({
  id: z.string(),
  sourceId: z.string(),
  type: z.enum(INTERACTION_TYPES),
  name: z.string().nullable(),
  timestamp: z.string(),
  receivedAt: z.string(),
  anonymousId: z.string(),
  userId: z.string().nullable(),
  sessionId: z.string().nullable(),
  eventId: z.string().nullable(),
  path: z.string().nullable(),
  referrer: z.string().nullable(),
  properties: z.record(z.string(), z.unknown()).nullable(),
  device: z.string(),
  browser: z.string(),
  os: z.string(),
  country: z.string().nullable(),
});
export type StoredInteraction = z.infer<typeof storedInteractionSchema>;

export const interactionPageSchema = z.object({
  items: z.array(storedInteractionSchema),
  nextCursor: z.string().nullable(),
});

export const TIMESERIES_METRICS = ["interactions", "pageviews", "visitors", "sessions"] as const;
export const TIMESERIES_INTERVALS = ["minute", "hour", "day"] as const;
export const timeseriesQuerySchema = z.object({
  ...rangeQuery,
  metric: z.enum(TIMESERIES_METRICS).default("interactions"),
  interval: z.enum(TIMESERIES_INTERVALS).default("hour"),
});
export type TimeseriesQuery = z.infer<typeof timeseriesQuerySchema>;
export const timeseriesSchema = z.object({
  metric: z.enum(TIMESERIES_METRICS),
  interval: z.enum(TIMESERIES_INTERVALS),
  points: z.array(z.object({ t: z.string(), value: z.number().int() })),
});

export const TOP_DIMENSIONS = ["path", "name", "referrer", "country", "device"] as const;
export const topQuerySchema = z.object({
  ...rangeQuery,
  dimension: z.enum(TOP_DIMENSIONS),
  limit: boundedIntParam(1, 100).default(10),
});
export type TopQuery = z.infer<typeof topQuerySchema>;
export const topSchema = z.object({
  dimension: z.enum(TOP_DIMENSIONS),
  items: z.array(z.object({ value: z.string(), count: z.number().int() })),
});

/** A funnel step: `page:<path pattern>` (`:name` matches one segment) or `track:<name>`. */
export const FUNNEL_STEP = /^(page:\/[^,]{0,500}|track:[^,]{1,200})$/;
export const funnelQuerySchema = z.object({
  ...rangeQuery,
  steps: z
    .string()
    .max(5_000)
    .transform((value) => value.split(","))
    .pipe(z.array(z.string().regex(FUNNEL_STEP, "each step is page:/path or track:name")).min(2).max(10)),
});
export type FunnelQuery = z.infer<typeof funnelQuerySchema>;
export const funnelSchema = z.object({
  steps: z.array(z.object({ step: z.string(), count: z.number().int(), conversion: z.number() })),
});

export const liveQuerySchema = z.object({ eventId: z.uuid().optional() });
export const liveSchema = z.object({
  visitorsNow: z.number().int(),
  perMinute: z.array(z.object({ t: z.string(), count: z.number().int() })),
});
