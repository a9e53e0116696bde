import type { Executor, Trx } from "../../platform/db.ts";
import type { AdmissionState } from "../../platform/db-schema.ts";

/** What deciding a join needs to know about an event, and its participation counters (table `admissions`). */
export interface AdmissionRecord {
  eventId: string;
  organizerId: string;
  state: AdmissionState;
  endsAt: Date;
  capacity: number | null;
  waitlistLimit: number | null;
  confirmed: number;
  waitlisted: number;
  checkedIn: number;
}

/** The terms an organizer sets on the event: when it ends, its seats and its waitlist. */
export interface AdmissionTerms {
  endsAt: Date;
  capacity: number | null;
  waitlistLimit: number | null;
}

/** The participation counters of an event. */
export interface AdmissionCounters {
  confirmed: number;
  waitlisted: number;
  checkedIn: number;
}

/** Inserts the admission of a new event, in state draft with no one admitted. */
export async function insertAdmission(
  trx: Trx,
  admission: AdmissionTerms & { eventId: string; organizerId: string },
): Promise<void> {
  await trx
    .insertInto("admissions")
    .values({
      event_id: admission.eventId,
      organizer_id: admission.organizerId,
      state: "draft",
      ends_at: admission.endsAt,
      capacity: admission.capacity,
      waitlist_limit: admission.waitlistLimit,
    })
    .execute();
}

/** The admission of one event; `forUpdate` locks its row until the transaction ends. */
export async function findAdmission(
  db: Executor,
  eventId: string,
  options: { forUpdate?: boolean } = {},
): Promise<AdmissionRecord | undefined> {
  let query = db
    .selectFrom("admissions")
    .select([
      "event_id",
      "organizer_id",
      "state",
      "ends_at",
      "capacity",
      "waitlist_limit",
      "confirmed",
      "waitlisted",
      "checked_in",
    ])
    .where("event_id", "=", eventId);
  if (options.forUpdate === true) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    eventId: row.event_id,
    organizerId: row.organizer_id,
    state: row.state,
    endsAt: row.ends_at,
    capacity: row.capacity,
    waitlistLimit: row.waitlist_limit,
    confirmed: row.confirmed,
    waitlisted: row.waitlisted,
    checkedIn: row.checked_in,
  };
}

/** The counters of these events, by event id; events without an admission are absent. */
export async function findCounters(
  db: Executor,
  eventIds: readonly string[],
): Promise<Map<string, AdmissionCounters>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("admissions")
    .select(["event_id", "confirmed", "waitlisted", "checked_in"])
    .where("event_id", "in", [...new Set(eventIds)])
    .execute();
  return new Map(
    rows.map((row) => [
      row.event_id,
      { confirmed: row.confirmed, waitlisted: row.waitlisted, checkedIn: row.checked_in },
    ]),
  );
}

/** Writes changed terms and/or a new state; fields left undefined stay as they are. */
export async function updateAdmission(
  trx: Trx,
  eventId: string,
  changes: Partial<AdmissionTerms> & { state?: AdmissionState },
): Promise<void> {
  await trx
    .updateTable("admissions")
    .set({
      ends_at: changes.endsAt,
      capacity: changes.capacity,
      waitlist_limit: changes.waitlistLimit,
      state: changes.state,
    })
    .where("event_id", "=", eventId)
    .execute();
}

/** Sets the counters, inside the transaction that holds the admission's lock. */
export async function setCounters(trx: Trx, eventId: string, counters: AdmissionCounters): Promise<void> {
  await trx
    .updateTable("admissions")
    .set({
      confirmed: counters.confirmed,
      waitlisted: counters.waitlisted,
      checked_in: counters.checkedIn,
    })
    .where("event_id", "=", eventId)
    .execute();
}
