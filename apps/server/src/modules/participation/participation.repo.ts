import { type Participation, type ParticipationStatus, participationStatusSchema } from "@turnout/contracts";
import { type Selectable, sql } from "kysely";
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
    joinedAt: isoOf(record.joinedAt),
    ...(record.confirmedAt === null ? {} : { confirmedAt: isoOf(record.confirmedAt) }),
    ...(record.checkedInAt === null ? {} : { checkedInAt: isoOf(record.checkedInAt) }),
  };
}

// Every place a batch of joins gives shares one Date (joined and confirmed at the batch's now): written out
// once per batch instead of twice per person.
let lastDate: Date | undefined;
let lastIso = "";
function isoOf(date: Date): string {
  if (date !== lastDate || lastIso === "") {
    lastIso = date.toISOString();
    lastDate = date;
  }
  return lastIso;
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

// What admit_joins_v3 answers (pg has parsed its json). Checked in place rather than by a zod schema, which
// copied every place of a batch of up to 1,000 (ADR 0005, 2026-12-06 evening). Any other shape throws, as
// the schema did.
interface AdmissionJson {
  organizer_id: string;
  state: AdmissionResult["state"];
  is_open: boolean;
  capacity: number | null;
  confirmed: number;
  waitlisted: number;
  checked_in: number;
  /** A new place: [user_id, status, queue_number, waitlist position or null]; joined at the batch's now. */
  placed: [string, ParticipationStatus, number, number | null][];
  held: {
    event_id: string;
    user_id: string;
    status: ParticipationStatus;
    queue_number: number;
    joined_at: string;
    confirmed_at: string | null;
    checked_in_at: string | null;
  }[];
}

const STATUSES: ReadonlySet<unknown> = new Set(participationStatusSchema.options);
const STATES: ReadonlySet<unknown> = new Set(["draft", "open", "closed"]);

function readAdmission(value: unknown): AdmissionJson {
  const row = value as Partial<Record<keyof AdmissionJson, unknown>>;
  const isValid =
    typeof value === "object" &&
    value !== null &&
    typeof row.organizer_id === "string" &&
    STATES.has(row.state) &&
    typeof row.is_open === "boolean" &&
    (row.capacity === null || typeof row.capacity === "number") &&
    typeof row.confirmed === "number" &&
    typeof row.waitlisted === "number" &&
    typeof row.checked_in === "number" &&
    Array.isArray(row.placed) &&
    row.placed.every(isPlace) &&
    Array.isArray(row.held) &&
    row.held.every(isHeld);
  if (!isValid) throw new Error("admit_joins_v3 answered an unexpected shape");
  return value as AdmissionJson;
}

function isPlace(place: unknown): boolean {
  return (
    Array.isArray(place) &&
    place.length === 4 &&
    typeof place[0] === "string" &&
    STATUSES.has(place[1]) &&
    typeof place[2] === "number" &&
    (place[3] === null || typeof place[3] === "number")
  );
}

function isHeld(value: unknown): boolean {
  const held = value as Partial<Record<keyof AdmissionJson["held"][number], unknown>> | null;
  return (
    typeof held === "object" &&
    held !== null &&
    typeof held.event_id === "string" &&
    typeof held.user_id === "string" &&
    STATUSES.has(held.status) &&
    typeof held.queue_number === "number" &&
    typeof held.joined_at === "string" &&
    (held.confirmed_at === null || typeof held.confirmed_at === "string") &&
    (held.checked_in_at === null || typeof held.checked_in_at === "string")
  );
}

function fromJson(row: AdmissionJson["held"][number]): ParticipationRecord {
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
  const row = readAdmission(admission);
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
