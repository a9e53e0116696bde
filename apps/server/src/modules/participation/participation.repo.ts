import { type Participation, type ParticipationStatus, participationStatusSchema } from "@turnout/contracts";
import { type Selectable, sql } from "kysely";
import { z } from "zod";
import type { Executor, Trx } from "../../platform/db.ts";
import type { ParticipationsTable } from "../../platform/db-schema.ts";

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

type Row = Pick<Selectable<ParticipationsTable>, (typeof COLUMNS)[number]>;

/** Maps a selected participations row to a record. */
export function toRecordOf(row: Row): ParticipationRecord {
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
  return row === undefined ? undefined : toRecordOf(row);
}

/** The ids of the events a user holds a confirmed seat at, latest join first, at most `limit`. */
export async function listConfirmedEventIds(db: Executor, userId: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom("participations")
    .select("event_id")
    .where("user_id", "=", userId)
    .where("status", "=", "confirmed")
    .orderBy("queue_number", "desc")
    .limit(limit)
    .execute();
  return rows.map((row) => row.event_id);
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
  return toRecordOf(row);
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
  return result.rows.map(toRecordOf).sort((a, b) => a.queueNumber - b.queueNumber);
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
  return rows.map(toRecordOf);
}

/** What one call of admit_joins_v3 saw and did (see admitJoins). */
export interface AdmissionResult {
  organizerId: string;
  /** closed: the event was cancelled. */
  state: "draft" | "open" | "closed";
  /** Open and not ended: only then were places given. */
  isOpen: boolean;
  capacity: number | null;
  /** Counters after the batch. */
  confirmed: number;
  waitlisted: number;
  checkedIn: number;
  /** New places, with their waitlist position (null when confirmed). */
  placed: { record: ParticipationRecord; waitlistPosition: number | null }[];
  /** The places the joiners held before the batch, any status. */
  held: ParticipationRecord[];
}

const jsonRecordSchema = z.object({
  event_id: z.string(),
  user_id: z.string(),
  status: participationStatusSchema,
  queue_number: z.number(),
  joined_at: z.string(),
  confirmed_at: z.string().nullable(),
  checked_in_at: z.string().nullable(),
});

// A new place: [user_id, status, queue_number, waitlist position or null]; it was joined at the batch's now.
const placeSchema = z.tuple([z.string(), participationStatusSchema, z.number(), z.number().nullable()]);

const admissionSchema = z.object({
  organizer_id: z.string(),
  state: z.enum(["draft", "open", "closed"]),
  is_open: z.boolean(),
  capacity: z.number().nullable(),
  confirmed: z.number(),
  waitlisted: z.number(),
  checked_in: z.number(),
  placed: z.array(placeSchema),
  held: z.array(jsonRecordSchema),
});

function fromJson(row: z.infer<typeof jsonRecordSchema>): ParticipationRecord {
  return toRecordOf({
    ...row,
    joined_at: new Date(row.joined_at),
    confirmed_at: row.confirmed_at === null ? null : new Date(row.confirmed_at),
    checked_in_at: row.checked_in_at === null ? null : new Date(row.checked_in_at),
  });
}

/**
 * Decides and writes a batch of joins with one call of the database function admit_joins_v3
 * (platform/migrations/sql/admit_joins_v3.sql), so the event's admission row is locked for a single round
 * trip (ADR 0005, 0011). Undefined when the event has no admission (no such event). `userIds` are in arrival order; a user's first arrival counts.
 */
export async function admitJoins(
  db: Executor,
  eventId: string,
  userIds: readonly string[],
  now: Date,
): Promise<AdmissionResult | undefined> {
  const result = await sql<{ admission: unknown }>`
    SELECT admit_joins_v3(${eventId}::uuid, ${userIds}::uuid[], ${now}::timestamptz) AS admission
  `.execute(db);
  const admission = result.rows[0]?.admission;
  if (admission === null || admission === undefined) return undefined;
  const row = admissionSchema.parse(admission);
  return {
    organizerId: row.organizer_id,
    state: row.state,
    isOpen: row.is_open,
    capacity: row.capacity,
    confirmed: row.confirmed,
    waitlisted: row.waitlisted,
    checkedIn: row.checked_in,
    placed: row.placed.map(([userId, status, queueNumber, waitlistPosition]) => ({
      record: {
        eventId,
        userId,
        status,
        queueNumber,
        joinedAt: now,
        confirmedAt: status === "confirmed" ? now : null,
        checkedInAt: null,
      },
      waitlistPosition,
    })),
    held: row.held.map(fromJson),
  };
}
