import type { Trx } from "../../platform/db.ts";

/**
 * Marks a confirmed participation checked in at `now`; returns that time, or undefined when there was no
 * confirmed row still unchecked. Run it holding the event's lock (the counter is written with it).
 */
export async function markCheckedIn(
  trx: Trx,
  eventId: string,
  userId: string,
  now: Date,
): Promise<Date | undefined> {
  const row = await trx
    .updateTable("participations")
    .set({ checked_in_at: now, updated_at: now })
    .where("event_id", "=", eventId)
    .where("user_id", "=", userId)
    .where("status", "=", "confirmed")
    .where("checked_in_at", "is", null)
    .returning("checked_in_at")
    .executeTakeFirst();
  return row?.checked_in_at ?? undefined;
}
