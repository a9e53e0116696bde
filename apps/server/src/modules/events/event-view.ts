import type { Event, EventPage } from "@turnout/contracts";
import type { Executor } from "../../platform/db.ts";
import { AppError } from "../../platform/errors.ts";
import { countAdmissions } from "../participation/index.ts";
import { encodeCursor, type RankKey, type TimeKey } from "./cursor.ts";
import { hasEnded } from "./event-access.ts";
import type { EventRecord } from "./events.repo.ts";

/** An event's participation counters, as participation's countAdmissions reports them. */
export interface EventCounters {
  confirmed: number;
  waitlisted: number;
  checkedIn: number;
}

/** The public Event (API.md) of a stored event with its counters, with `ended` judged at `now`. */
export function toEventView(record: EventRecord, counters: EventCounters, now: Date): Event {
  return {
    id: record.id,
    title: record.title,
    description: record.description,
    startsAt: record.startsAt.toISOString(),
    endsAt: record.endsAt.toISOString(),
    timezone: record.timezone,
    venue: record.venue,
    onlineUrl: record.onlineUrl,
    category: record.category,
    tags: record.tags,
    capacity: record.capacity,
    waitlistLimit: record.waitlistLimit,
    visibility: record.visibility,
    status: record.status,
    ...(record.cancelReason === null ? {} : { cancelReason: record.cancelReason }),
    ...(record.coverPhotoUrl === null ? {} : { coverPhotoUrl: record.coverPhotoUrl }),
    organizer: { id: record.organizerId, name: record.organizerName },
    stats: { confirmed: counters.confirmed, waitlisted: counters.waitlisted, checkedIn: counters.checkedIn },
    version: record.version,
    ended: hasEnded(record, now),
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}

/** The events as the API shows them, each with its counters read from the participation module. */
export async function toEventViews(
  db: Executor,
  records: readonly EventRecord[],
  now: Date,
): Promise<Event[]> {
  const counters = await countAdmissions(
    db,
    records.map((record) => record.id),
  );
  return records.map((record) => toEventView(record, counters.get(record.id) ?? NO_ONE, now));
}

/** One event as the API shows it (see toEventViews). */
export async function toEventViewOf(db: Executor, record: EventRecord, now: Date): Promise<Event> {
  const [event] = await toEventViews(db, [record], now);
  if (event === undefined) throw new AppError("internal", "An event view went missing.");
  return event;
}

// Only an event created by a process of the release before admissions has none (ADR 0011): nobody joined it.
const NO_ONE: EventCounters = { confirmed: 0, waitlisted: 0, checkedIn: 0 };

/** A page of at most `limit` events from `limit + 1` fetched rows; the extra one says whether more follow. */
export async function toPage(
  db: Executor,
  rows: { record: EventRecord; key: TimeKey | RankKey }[],
  limit: number,
  now: Date,
): Promise<EventPage> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: await toEventViews(
      db,
      page.map(({ record }) => record),
      now,
    ),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.key) : null,
  };
}
