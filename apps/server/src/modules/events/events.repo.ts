import { EVENT_CATEGORY_SLUGS, type EventCategory, type Venue } from "@turnout/contracts";
import { type Selectable, sql } from "kysely";
import type { Executor } from "../../platform/db.ts";
import type { TimeKey } from "./cursor.ts";
import type { EventStatus, EventsTable, EventVisibility } from "../../platform/db-schema.ts";

/** An event as stored, with its organizer's name; times are Dates. The service turns it into the API shape. */
export interface EventRecord {
  id: string;
  organizerId: string;
  organizerName: string;
  title: string;
  description: string;
  startsAt: Date;
  endsAt: Date;
  timezone: string;
  venue: Venue | null;
  onlineUrl: string | null;
  category: EventCategory;
  tags: string[];
  capacity: number | null;
  waitlistLimit: number | null;
  visibility: EventVisibility;
  status: EventStatus;
  cancelReason: string | null;
  coverPhotoUrl: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The fields an organizer writes; `status` and `cancelReason` change only through the lifecycle. */
export interface EventFields {
  title: string;
  description: string;
  startsAt: Date;
  endsAt: Date;
  timezone: string;
  venue: Venue | null;
  onlineUrl: string | null;
  category: EventCategory;
  tags: string[];
  capacity: number | null;
  waitlistLimit: number | null;
  visibility: EventVisibility;
  coverPhotoUrl: string | null;
}

/**
 * Every column but the search vector, which only SQL reads, and the participation counters, which the
 * participation module keeps in its admissions table since 20261206T0300 (ADR 0011; the stale columns are
 * dropped by the next release's contract migration).
 */
export const EVENT_COLUMNS = [
  "id",
  "organizer_id",
  "title",
  "description",
  "starts_at",
  "ends_at",
  "timezone",
  "venue",
  "online_url",
  "category",
  "tags",
  "capacity",
  "waitlist_limit",
  "visibility",
  "status",
  "cancel_reason",
  "cover_photo_url",
  "version",
  "created_at",
  "updated_at",
] as const;

const QUALIFIED_COLUMNS = EVENT_COLUMNS.map((column) => `events.${column}` as const);

/**
 * starts_at as text with microseconds, for cursors: a JavaScript Date keeps milliseconds only, and a cursor
 * that lost precision would repeat or skip rows written with finer times (by SQL seeds, for instance).
 */
export const STARTS_AT_KEY = sql<string>`to_char(events.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

type EventRow = Pick<Selectable<EventsTable>, (typeof EVENT_COLUMNS)[number]> & {
  organizer_name: string | null;
};

const CATEGORIES: ReadonlySet<string> = new Set(EVENT_CATEGORY_SLUGS);
function isEventCategory(slug: string): slug is EventCategory {
  return CATEGORIES.has(slug);
}

/** Maps a row selected with EVENT_COLUMNS and `organizer_name` to a record. */
export function toEventRecord(row: EventRow): EventRecord {
  return {
    id: row.id,
    organizerId: row.organizer_id,
    // Never null: the view's column is NOT NULL in users (see UserNamesView).
    organizerName: row.organizer_name ?? "",
    title: row.title,
    description: row.description,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    timezone: row.timezone,
    venue: row.venue,
    onlineUrl: row.online_url,
    // A slug written by a newer version of the code that this one does not know yet.
    category: isEventCategory(row.category) ? row.category : "other",
    tags: row.tags,
    capacity: row.capacity,
    waitlistLimit: row.waitlist_limit,
    visibility: row.visibility,
    status: row.status,
    cancelReason: row.cancel_reason,
    coverPhotoUrl: row.cover_photo_url,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// Fields left undefined are left out of an UPDATE by Kysely.
function toColumns(fields: Partial<EventFields>) {
  return {
    title: fields.title,
    description: fields.description,
    starts_at: fields.startsAt,
    ends_at: fields.endsAt,
    timezone: fields.timezone,
    venue: fields.venue,
    online_url: fields.onlineUrl,
    category: fields.category,
    tags: fields.tags,
    capacity: fields.capacity,
    waitlist_limit: fields.waitlistLimit,
    visibility: fields.visibility,
    cover_photo_url: fields.coverPhotoUrl,
  };
}

/** Inserts a draft. */
export async function insertEvent(
  db: Executor,
  event: EventFields & { id: string; organizerId: string; now: Date },
): Promise<void> {
  await db
    .insertInto("events")
    .values({
      title: event.title,
      description: event.description,
      starts_at: event.startsAt,
      ends_at: event.endsAt,
      timezone: event.timezone,
      venue: event.venue,
      online_url: event.onlineUrl,
      category: event.category,
      tags: event.tags,
      capacity: event.capacity,
      waitlist_limit: event.waitlistLimit,
      visibility: event.visibility,
      cover_photo_url: event.coverPhotoUrl,
      id: event.id,
      organizer_id: event.organizerId,
      status: "draft",
      created_at: event.now,
      updated_at: event.now,
    })
    .execute();
}

/** The event with this id; `forUpdate` locks its row (not the organizer's) until the transaction ends. */
export async function findEvent(
  db: Executor,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<EventRecord | undefined> {
  let query = db
    .selectFrom("events")
    .innerJoin("user_names", "user_names.id", "events.organizer_id")
    .select(QUALIFIED_COLUMNS)
    .select("user_names.name as organizer_name")
    .where("events.id", "=", id);
  if (options.forUpdate === true) query = query.forUpdate("events");
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : toEventRecord(row);
}

/** The events with these ids (any status), in no particular order. */
export async function findEvents(db: Executor, ids: readonly string[]): Promise<EventRecord[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom("events")
    .innerJoin("user_names", "user_names.id", "events.organizer_id")
    .select(QUALIFIED_COLUMNS)
    .select("user_names.name as organizer_name")
    .where("events.id", "in", [...new Set(ids)])
    .execute();
  return rows.map(toEventRecord);
}

/**
 * Writes changed fields and/or a new status, and bumps the version. Participation counters live in the
 * participation module and do not bump it, so an ETag stays valid while people join.
 */
export async function updateEvent(
  db: Executor,
  id: string,
  changes: Partial<EventFields> & { status?: EventStatus; cancelReason?: string; now: Date },
): Promise<void> {
  await db
    .updateTable("events")
    .set({
      ...toColumns(changes),
      status: changes.status,
      cancel_reason: changes.cancelReason,
      updated_at: changes.now,
      version: sql`version + 1`,
    })
    .where("id", "=", id)
    .execute();
}

/** Deletes an event row. */
export async function deleteEvent(db: Executor, id: string): Promise<void> {
  await db.deleteFrom("events").where("id", "=", id).execute();
}

/** The query listOrganizerEvents runs (the plan test EXPLAINs it). */
export function buildOrganizerEventsQuery(
  db: Executor,
  organizerId: string,
  page: { limit: number; after?: TimeKey },
) {
  const query = db
    .selectFrom("events")
    .innerJoin("user_names", "user_names.id", "events.organizer_id")
    .select(QUALIFIED_COLUMNS)
    .select(["user_names.name as organizer_name", STARTS_AT_KEY.as("starts_at_key")])
    .where("events.organizer_id", "=", organizerId)
    .orderBy("events.starts_at", "desc")
    .orderBy("events.id", "desc")
    .limit(page.limit);
  const after = page.after;
  if (after === undefined) return query;
  return query.where(
    sql<boolean>`(events.starts_at, events.id) < (${after.startsAt}::timestamptz, ${after.id}::uuid)`,
  );
}

/** One page of an organizer's events, every status, latest start first; `after` is the last key seen. */
export async function listOrganizerEvents(
  db: Executor,
  organizerId: string,
  page: { limit: number; after?: TimeKey },
): Promise<{ record: EventRecord; key: TimeKey }[]> {
  const rows = await buildOrganizerEventsQuery(db, organizerId, page).execute();
  return rows.map((row) => ({
    record: toEventRecord(row),
    key: { startsAt: row.starts_at_key, id: row.id },
  }));
}

/** Who organizes the event and its status (what access to it depends on), if there is one. */
export async function findOwnership(
  db: Executor,
  id: string,
): Promise<{ organizerId: string; status: EventStatus } | undefined> {
  const row = await db
    .selectFrom("events")
    .select(["organizer_id", "status"])
    .where("id", "=", id)
    .executeTakeFirst();
  return row === undefined ? undefined : { organizerId: row.organizer_id, status: row.status };
}
