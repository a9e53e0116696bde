import type { Participation, ParticipationStatus } from "@turnout/contracts";
import { sql } from "kysely";
import type { Executor, Trx } from "../../platform/db.ts";

/** A participation as stored. */
export interface ParticipationRecord {
  eventId: string;
  userId: string;
  status: ParticipationStatus;
  queueNumber: number;
  joinedAt: Date;
  confirmedAt: Date | null;
  checkedInAt: Date | null;
}

const COLUMNS = [
  "event_id",
  "user_id",
  "status",
  "queue_number",
  "joined_at",
  "confirmed_at",
  "checked_in_at",
] as const;

interface Row {
  event_id: string;
  user_id: string;
  status: ParticipationStatus;
  queue_number: number;
  joined_at: Date;
  confirmed_at: Date | null;
  checked_in_at: Date | null;
}

function toRecord(row: Row): ParticipationRecord {
  return {
    eventId: row.event_id,
    userId: row.user_id,
    status: row.status,
    queueNumber: row.queue_number,
    joinedAt: row.joined_at,
    confirmedAt: row.confirmed_at,
    checkedInAt: row.checked_in_at,
  };
}

/** The API shape of a record, given its waitlist position (null unless waitlisted). */
export function toParticipation(record: ParticipationRecord, waitlistPosition: number | null): Participation {
  return {
    eventId: record.eventId,
    userId: record.userId,
    status: record.status,
    waitlistPosition: record.status === "waitlisted" ? waitlistPosition : null,
    joinedAt: record.joinedAt.toISOString(),
    ...(record.confirmedAt === null ? {} : { confirmedAt: record.confirmedAt.toISOString() }),
    ...(record.checkedInAt === null ? {} : { checkedInAt: record.checkedInAt.toISOString() }),
  };
}

/** One person's participation at an event; `forUpdate` locks the row. */
export async function findParticipation(
  db: Executor,
  eventId: string,
  userId: string,
  options: { forUpdate?: boolean } = {},
): Promise<ParticipationRecord | undefined> {
  let query = db
    .selectFrom("participations")
    .select(COLUMNS)
    .where("event_id", "=", eventId)
    .where("user_id", "=", userId);
  if (options.forUpdate === true) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** The participations that some users hold at one event (any status), by user id. */
export async function findParticipationsOf(
  db: Executor,
  eventId: string,
  userIds: readonly string[],
): Promise<Map<string, ParticipationRecord>> {
  if (userIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("participations")
    .select(COLUMNS)
    .where("event_id", "=", eventId)
    .where("user_id", "=", sql<string>`ANY(${[...new Set(userIds)]}::uuid[])`)
    .execute();
  return new Map(rows.map((row) => [row.user_id, toRecord(row)]));
}

/** 1 + how many are waitlisted ahead of `queueNumber` at the event. */
export async function waitlistPosition(db: Executor, eventId: string, queueNumber: number): Promise<number> {
  const row = await db
    .selectFrom("participations")
    .select((eb) => eb.fn.countAll<number>().as("ahead"))
    .where("event_id", "=", eventId)
    .where("status", "=", "waitlisted")
    .where("queue_number", "<", queueNumber)
    .executeTakeFirstOrThrow();
  return row.ahead + 1;
}

/** `count` fresh queue numbers, ascending; draw them while holding the event's lock (ADR 0005). */
export async function drawQueueNumbers(trx: Trx, count: number): Promise<number[]> {
  if (count === 0) return [];
  const result = await sql<{ n: number }>`
    SELECT nextval('participation_queue_numbers') AS n FROM generate_series(1, ${count}::int)
  `.execute(trx);
  return result.rows.map((row) => row.n).sort((a, b) => a - b);
}

/** A new place (or a new place for someone who cancelled before: the row is reused, back of the queue). */
export interface NewPlace {
  userId: string;
  status: "confirmed" | "waitlisted";
  queueNumber: number;
}

/** Writes new places with one statement; returns their records. */
export async function upsertPlaces(
  trx: Trx,
  eventId: string,
  places: readonly NewPlace[],
  now: Date,
): Promise<ParticipationRecord[]> {
  if (places.length === 0) return [];
  const result = await sql<Row>`
    INSERT INTO participations (event_id, user_id, status, queue_number, joined_at, confirmed_at, updated_at)
    SELECT ${eventId}::uuid, place.user_id, place.status, place.queue_number, ${now}::timestamptz,
      CASE WHEN place.status = 'confirmed' THEN ${now}::timestamptz END, ${now}::timestamptz
    FROM unnest(
      ${places.map((place) => place.userId)}::uuid[],
      ${places.map((place) => place.status)}::text[],
      ${places.map((place) => place.queueNumber)}::bigint[]
    ) AS place (user_id, status, queue_number)
    ON CONFLICT (event_id, user_id) DO UPDATE SET
      status = excluded.status,
      queue_number = excluded.queue_number,
      joined_at = excluded.joined_at,
      confirmed_at = excluded.confirmed_at,
      checked_in_at = NULL,
      removed_reason = NULL,
      updated_at = excluded.updated_at
    RETURNING ${sql.join(COLUMNS.map((column) => sql.ref(column)))}
  `.execute(trx);
  return result.rows.map(toRecord);
}

/** Moves one participation to a status that holds no place (cancelled, removed). */
export async function releasePlace(
  trx: Trx,
  eventId: string,
  userId: string,
  change: { status: "cancelled" | "removed"; reason?: string; now: Date },
): Promise<ParticipationRecord> {
  const row = await trx
    .updateTable("participations")
    .set({ status: change.status, removed_reason: change.reason ?? null, updated_at: change.now })
    .where("event_id", "=", eventId)
    .where("user_id", "=", userId)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

/** Confirms the first `count` waitlisted people of the event, in queue order; returns them in that order. */
export async function promoteWaitlistHead(
  trx: Trx,
  eventId: string,
  count: number | null,
  now: Date,
): Promise<ParticipationRecord[]> {
  if (count === 0) return [];
  const result = await sql<Row>`
    UPDATE participations SET status = 'confirmed', confirmed_at = ${now}, updated_at = ${now}
    WHERE event_id = ${eventId} AND user_id IN (
      SELECT user_id FROM participations
      WHERE event_id = ${eventId} AND status = 'waitlisted'
      ORDER BY queue_number
      ${count === null ? sql`` : sql`LIMIT ${count}`}
      FOR UPDATE
    )
    RETURNING ${sql.join(COLUMNS.map((column) => sql.ref(column)))}
  `.execute(trx);
  return result.rows.map(toRecord).sort((a, b) => a.queueNumber - b.queueNumber);
}

/** Moves every confirmed and waitlisted participation of a cancelled event to event_cancelled. */
export async function cancelAllPlaces(trx: Trx, eventId: string, now: Date): Promise<ParticipationRecord[]> {
  const rows = await trx
    .updateTable("participations")
    .set({ status: "event_cancelled", updated_at: now })
    .where("event_id", "=", eventId)
    .where("status", "in", ["confirmed", "waitlisted"])
    .returning(COLUMNS)
    .execute();
  return rows.map(toRecord);
}
