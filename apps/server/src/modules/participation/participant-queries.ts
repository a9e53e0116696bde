import type { ParticipationStatus } from "@turnout/contracts";
import type { Executor } from "../../platform/db.ts";

// Read-only questions other modules ask about who takes part in an event (photos, notifications).

/** A person's participation status at an event, or null when they never joined it. */
export async function findParticipationStatus(
  db: Executor,
  eventId: string,
  userId: string,
): Promise<ParticipationStatus | null> {
  const row = await db
    .selectFrom("participations")
    .select("status")
    .where("event_id", "=", eventId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return row?.status ?? null;
}

/** The ids of the people whose participation at an event has one of `statuses`, in queue order. */
export async function listParticipantIds(
  db: Executor,
  eventId: string,
  statuses: readonly ParticipationStatus[],
): Promise<string[]> {
  if (statuses.length === 0) return [];
  const rows = await db
    .selectFrom("participations")
    .select("user_id")
    .where("event_id", "=", eventId)
    .where("status", "in", statuses)
    .orderBy("queue_number")
    .execute();
  return rows.map((row) => row.user_id);
}
