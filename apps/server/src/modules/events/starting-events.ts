import type { Executor } from "../../platform/db.ts";

// Read-only: which published events start within a time window (the notifications module's reminders).

export interface StartingEvent {
  id: string;
  title: string;
  startsAt: Date;
}

/** Published events starting after `from` and at or before `to`, by start time. */
export async function listEventsStartingBetween(
  db: Executor,
  from: Date,
  to: Date,
): Promise<StartingEvent[]> {
  const rows = await db
    .selectFrom("events")
    .select(["id", "title", "starts_at"])
    .where("status", "=", "published")
    .where("starts_at", ">", from)
    .where("starts_at", "<=", to)
    .orderBy("starts_at")
    .execute();
  return rows.map((row) => ({ id: row.id, title: row.title, startsAt: row.starts_at }));
}
