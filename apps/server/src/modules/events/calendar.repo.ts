import type { Executor } from "../../platform/db.ts";
import { EVENT_COLUMNS, type EventRecord, toEventRecord } from "./events.repo.ts";

const QUALIFIED_COLUMNS = EVENT_COLUMNS.map((column) => `events.${column}` as const);

/** The user's feed token, creating it on first call; concurrent first calls all get the one that won. */
export async function ensureFeedToken(db: Executor, userId: string, candidate: string): Promise<string> {
  await db
    .insertInto("calendar_feeds")
    .values({ user_id: userId, token: candidate })
    .onConflict((conflict) => conflict.column("user_id").doNothing())
    .execute();
  const row = await db
    .selectFrom("calendar_feeds")
    .select("token")
    .where("user_id", "=", userId)
    .executeTakeFirstOrThrow();
  return row.token;
}

/** The id of the user a feed token belongs to, if any. */
export async function findFeedOwner(db: Executor, token: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("calendar_feeds")
    .select("user_id")
    .where("token", "=", token)
    .executeTakeFirst();
  return row?.user_id;
}

/** Published events the user organizes, latest start first, at most `limit`. */
export async function listPublishedOrganizerEvents(
  db: Executor,
  organizerId: string,
  limit: number,
): Promise<EventRecord[]> {
  const rows = await db
    .selectFrom("events")
    .innerJoin("users", "users.id", "events.organizer_id")
    .select(QUALIFIED_COLUMNS)
    .select("users.name as organizer_name")
    .where("events.organizer_id", "=", organizerId)
    .where("events.status", "=", "published")
    .orderBy("events.starts_at", "desc")
    .orderBy("events.id", "desc")
    .limit(limit)
    .execute();
  return rows.map(toEventRecord);
}
