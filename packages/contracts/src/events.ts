import { z } from "zod";
import { boundedInt, boundedIntParam } from "./numbers.ts";

/*
 * Events (API.md "Events"): the thing people attend. Bodies in, the Event out, the feed's query and page,
 * categories, and the domain events the lifecycle writes to the outbox.
 */

/** The fixed list of categories; an event's `category` is one of these slugs. Never rename a slug. */
export const EVENT_CATEGORY_SLUGS = [
  "music",
  "tech",
  "sports",
  "arts",
  "food",
  "community",
  "business",
  "education",
  "wellness",
  "outdoors",
  "other",
] as const;
export const eventCategorySchema = z.enum(EVENT_CATEGORY_SLUGS);
export type EventCategory = z.infer<typeof eventCategorySchema>;

/** Display names of the categories, in English. */
export const EVENT_CATEGORY_NAMES: Readonly<Record<EventCategory, string>> = {
  music: "Music",
  tech: "Technology",
  sports: "Sports",
  arts: "Arts & Culture",
  food: "Food & Drink",
  community: "Community",
  business: "Business",
  education: "Education",
  wellness: "Health & Wellness",
  outdoors: "Outdoors",
  other: "Other",
};

export const EVENT_STATUSES = ["draft", "published", "cancelled"] as const;
export const eventStatusSchema = z.enum(EVENT_STATUSES);
export type EventStatus = z.infer<typeof eventStatusSchema>;

export const EVENT_VISIBILITIES = ["public", "unlisted"] as const;
export const eventVisibilitySchema = z.enum(EVENT_VISIBILITIES);
export type EventVisibility = z.infer<typeof eventVisibilitySchema>;

export const EVENT_TITLE_MAX = 120;
export const EVENT_DESCRIPTION_MAX = 10_000;
export const EVENT_CAPACITY_MAX = 1_000_000;
export const EVENT_TAGS_MAX = 10;

/** True for a time zone name the runtime's IANA database knows ("Europe/Paris", "UTC"); offsets are refused. */
export function isIanaTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const timeZoneSchema = z
  .string()
  .max(64)
  .refine(isIanaTimeZone, "must be an IANA time zone name such as Europe/Paris");
// Years PostgreSQL, JavaScript and ISO-8601's four digits agree on, after the offset is applied: year 0000
// is refused by PostgreSQL, and 0000-01-01T00:00+14:00 would print as year -1.
const FIRST_INSTANT = Date.parse("1000-01-01T00:00:00Z");
const LAST_INSTANT = Date.parse("9999-12-31T23:59:59.999Z");
const instantSchema = z.iso.datetime({ offset: true }).pipe(
  z.string().refine((value) => {
    const time = Date.parse(value);
    return time >= FIRST_INSTANT && time <= LAST_INSTANT;
  }, "must fall between the years 1000 and 9999 (UTC)"),
);
const webUrlSchema = z.url({ protocol: /^https?$/ }).max(2000);

export const venueSchema = z.object({
  name: z.string().trim().min(1).max(200),
  address: z.string().trim().min(1).max(500),
  lat: z.number().min(-90).max(90).optional(),
  lng: z.number().min(-180).max(180).optional(),
});
export type Venue = z.infer<typeof venueSchema>;

/** Tags are matched exactly, so they are stored trimmed and lower-case. */
export const tagSchema = z.string().trim().toLowerCase().min(1).max(40);

const eventFields = {
  title: z.string().trim().min(1).max(EVENT_TITLE_MAX),
  description: z.string().max(EVENT_DESCRIPTION_MAX),
  startsAt: instantSchema,
  endsAt: instantSchema,
  timezone: timeZoneSchema,
  venue: venueSchema.nullable(),
  onlineUrl: webUrlSchema.nullable(),
  category: eventCategorySchema,
  tags: z.array(tagSchema).max(EVENT_TAGS_MAX),
  capacity: boundedInt(1, EVENT_CAPACITY_MAX).nullable(),
  waitlistLimit: boundedInt(0, EVENT_CAPACITY_MAX).nullable(),
  visibility: eventVisibilitySchema,
  coverPhotoUrl: webUrlSchema.nullable(),
};

const endsAfterStart = {
  // Unparseable times already have their own issue; only two valid times are compared.
  check: (body: { startsAt?: string; endsAt?: string }) => {
    const startsAt = Date.parse(body.startsAt ?? "");
    const endsAt = Date.parse(body.endsAt ?? "");
    return Number.isNaN(startsAt) || Number.isNaN(endsAt) || endsAt > startsAt;
  },
  params: { path: ["endsAt"], message: "must be after startsAt" },
};

/** POST /api/events. Omitted optional fields take the defaults below; the event starts as a draft. */
export const createEventBodySchema = z
  .object({
    ...eventFields,
    description: eventFields.description.default(""),
    venue: eventFields.venue.default(null),
    onlineUrl: eventFields.onlineUrl.default(null),
    tags: eventFields.tags.default([]),
    capacity: eventFields.capacity.default(null),
    waitlistLimit: eventFields.waitlistLimit.default(null),
    visibility: eventFields.visibility.default("public"),
    coverPhotoUrl: eventFields.coverPhotoUrl.default(null),
  })
  .refine(endsAfterStart.check, endsAfterStart.params);
export type CreateEventBody = z.infer<typeof createEventBodySchema>;

/** PATCH /api/events/:id: any subset of the fields; null clears a nullable one. */
export const updateEventBodySchema = z
  .object(eventFields)
  .partial()
  .refine(endsAfterStart.check, endsAfterStart.params);
export type UpdateEventBody = z.infer<typeof updateEventBodySchema>;

export const cancelEventBodySchema = z.object({ reason: z.string().trim().min(1).max(1000) });
export type CancelEventBody = z.infer<typeof cancelEventBodySchema>;

export const eventIdParamsSchema = z.object({ id: z.uuid() });

export const eventSchema = z.object({
  id: z.uuid(),
  title: z.string(),
  description: z.string(),
  startsAt: z.iso.datetime(),
  endsAt: z.iso.datetime(),
  timezone: z.string(),
  venue: venueSchema.nullable(),
  onlineUrl: z.string().nullable(),
  category: eventCategorySchema,
  tags: z.array(z.string()),
  capacity: z.number().int().nullable(),
  waitlistLimit: z.number().int().nullable(),
  visibility: eventVisibilitySchema,
  status: eventStatusSchema,
  /** Present once the event is cancelled. */
  cancelReason: z.string().optional(),
  coverPhotoUrl: z.string().optional(),
  organizer: z.object({ id: z.uuid(), name: z.string() }),
  stats: z.object({
    confirmed: z.number().int(),
    waitlisted: z.number().int(),
    checkedIn: z.number().int(),
  }),
  /** Bumped by every change an organizer or moderator makes; the ETag is `"<version>"`. */
  version: z.number().int(),
  /** endsAt has passed. */
  ended: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Event = z.infer<typeof eventSchema>;

export const eventPageSchema = z.object({ items: z.array(eventSchema), nextCursor: z.string().nullable() });
export type EventPage = z.infer<typeof eventPageSchema>;

export const limitSchema = boundedIntParam(1, 100).default(20);
export const cursorSchema = z.string().min(1).max(500);

/** GET /api/events: published public events that have not ended. */
export const eventFeedQuerySchema = z.object({
  q: z.string().trim().min(1).max(200).optional(),
  category: eventCategorySchema.optional(),
  tag: tagSchema.optional(),
  from: instantSchema.optional(),
  to: instantSchema.optional(),
  organizer: z.uuid().optional(),
  cursor: cursorSchema.optional(),
  limit: limitSchema,
});
export type EventFeedQuery = z.infer<typeof eventFeedQuerySchema>;

/** GET /api/me/events: the caller's own events, every status, latest start first. */
export const myEventsQuerySchema = z.object({ cursor: cursorSchema.optional(), limit: limitSchema });
export type MyEventsQuery = z.infer<typeof myEventsQuerySchema>;

export const categoryListSchema = z.object({
  items: z.array(
    z.object({
      slug: eventCategorySchema,
      name: z.string(),
      /** Published public events that have not ended; may lag by up to 5 s. */
      upcomingCount: z.number().int(),
    }),
  ),
});
export type CategoryList = z.infer<typeof categoryListSchema>;

/** Data of `event.published.v1` and `event.cancelled.v1`. */
export const eventChangedDataSchema = z.object({ event: eventSchema });
/** Data of `event.updated.v1`: the event after the change and the names of the fields that changed. */
export const eventUpdatedDataSchema = z.object({
  event: eventSchema,
  changedFields: z.array(z.string()),
});
export type EventUpdatedData = z.infer<typeof eventUpdatedDataSchema>;

export const EVENT_DOMAIN_EVENTS = {
  published: "event.published.v1",
  updated: "event.updated.v1",
  cancelled: "event.cancelled.v1",
} as const;
