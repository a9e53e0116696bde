import type { Event, EventPage } from "@turnout/contracts";
import { encodeCursor, type RankKey, type TimeKey } from "./cursor.ts";
import { hasEnded } from "./event-access.ts";
import type { EventRecord } from "./events.repo.ts";

/** The public Event (API.md) of a stored event, with `ended` judged at `now`. */
export function toEventView(record: EventRecord, now: Date): Event {
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
    stats: { confirmed: record.confirmed, waitlisted: record.waitlisted, checkedIn: record.checkedIn },
    version: record.version,
    ended: hasEnded(record, now),
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}

/** A page of at most `limit` events from `limit + 1` fetched rows; the extra one says whether more follow. */
export function toPage(
  rows: { record: EventRecord; key: TimeKey | RankKey }[],
  limit: number,
  now: Date,
): EventPage {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(({ record }) => toEventView(record, now)),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.key) : null,
  };
}
