import type { Executor } from "../../platform/db.ts";

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
