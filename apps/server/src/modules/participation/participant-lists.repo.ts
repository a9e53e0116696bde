import type { ParticipationStatus } from "@turnout/contracts";
import type { Executor } from "../../platform/db.ts";
import { type ParticipationRecord, toRecordOf } from "./participation.repo.ts";

/** One page of an event's confirmed or waitlisted people in queue order, after `afterQueueNumber`. */
export async function listParticipants(
  db: Executor,
  eventId: string,
  page: { status: "confirmed" | "waitlisted"; limit: number; afterQueueNumber?: number },
): Promise<{ record: ParticipationRecord; userName: string }[]> {
  let query = db
    .selectFrom("participations")
    .innerJoin("user_names", "user_names.id", "participations.user_id")
    .select([
      "participations.event_id",
      "participations.user_id",
      "participations.status",
      "participations.queue_number",
      "participations.joined_at",
      "participations.confirmed_at",
      "participations.checked_in_at",
      "user_names.name as user_name",
    ])
    .where("participations.event_id", "=", eventId)
    .where("participations.status", "=", page.status)
    .orderBy("participations.queue_number")
    .limit(page.limit);
  if (page.afterQueueNumber !== undefined) {
    query = query.where("participations.queue_number", ">", page.afterQueueNumber);
  }
  const rows = await query.execute();
  return rows.map((row) => ({ record: toRecordOf(row), userName: row.user_name ?? "" }));
}

/** One page of a person's participations, latest join first, before `beforeQueueNumber`. */
export async function listUserParticipations(
  db: Executor,
  userId: string,
  page: { status?: ParticipationStatus; limit: number; beforeQueueNumber?: number },
): Promise<ParticipationRecord[]> {
  let query = db
    .selectFrom("participations")
    .select(["event_id", "user_id", "status", "queue_number", "joined_at", "confirmed_at", "checked_in_at"])
    .where("user_id", "=", userId)
    .orderBy("queue_number", "desc")
    .limit(page.limit);
  if (page.status !== undefined) query = query.where("status", "=", page.status);
  if (page.beforeQueueNumber !== undefined) query = query.where("queue_number", "<", page.beforeQueueNumber);
  const rows = await query.execute();
  return rows.map(toRecordOf);
}
