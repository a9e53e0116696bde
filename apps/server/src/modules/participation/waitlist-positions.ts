import { sql } from "kysely";
import type { Executor } from "../../platform/db.ts";

/**
 * Everyone waitlisted at the event with their place in line (1 = next), in queue order. Read-only, for the
 * realtime module, which pushes positions as they move (ADR 0014) instead of the join writing one message each.
 */
export async function listWaitlistPositions(
  db: Executor,
  eventId: string,
): Promise<{ userId: string; position: number }[]> {
  const rows = await db
    .selectFrom("participations")
    .select(["user_id", sql<number>`row_number() OVER (ORDER BY queue_number)`.as("position")])
    .where("event_id", "=", eventId)
    .where("status", "=", "waitlisted")
    .orderBy("queue_number")
    .execute();
  return rows.map((row) => ({ userId: row.user_id, position: row.position }));
}
