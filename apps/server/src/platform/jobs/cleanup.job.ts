import type { Deps } from "../../deps.ts";
import type { Executor } from "../db.ts";
import { deleteStaleCounters } from "../rate-limit.ts";

/*
 * maintenance.cleanup: drops rows whose purpose has passed. Idempotency keys answer retries only until they
 * expire. Refresh tokens are kept a day past expiry so a late reuse of a rotated token is still recognised
 * as reuse (and revokes its session) rather than as an unknown token. Rate-limit windows last at most an
 * hour, so older counters no longer limit anything.
 */

export const CLEANUP_CRON = "*/10 * * * *";
const REFRESH_TOKEN_GRACE_MS = 24 * 60 * 60 * 1000;
const LONGEST_RATE_LIMIT_WINDOW_MS = 60 * 60 * 1000;
// Small batches keep each delete's locks and WAL short even after a long outage left a backlog.
const BATCH_SIZE = 5000;

/** Deletes expired idempotency keys, refresh tokens expired over a day ago and stale rate-limit counters. */
export async function deleteExpiredRows(db: Executor, now: Date) {
  const idempotencyKeys = await deleteInBatches(async () => {
    const result = await db
      .deleteFrom("idempotency_keys")
      .where((eb) =>
        eb(
          eb.refTuple("user_id", "key"),
          "in",
          eb
            .selectFrom("idempotency_keys")
            .select(["user_id", "key"])
            .where("expires_at", "<", now)
            .limit(BATCH_SIZE)
            .$asTuple("user_id", "key"),
        ),
      )
      .executeTakeFirst();
    return result.numDeletedRows;
  });
  const refreshTokens = await deleteInBatches(async () => {
    const result = await db
      .deleteFrom("refresh_tokens")
      .where("id", "in", (eb) =>
        eb
          .selectFrom("refresh_tokens")
          .select("id")
          .where("expires_at", "<", new Date(now.getTime() - REFRESH_TOKEN_GRACE_MS))
          .limit(BATCH_SIZE),
      )
      .executeTakeFirst();
    return result.numDeletedRows;
  });
  const rateLimitCounters = await deleteStaleCounters(
    db,
    new Date(now.getTime() - LONGEST_RATE_LIMIT_WINDOW_MS),
  );
  return { idempotencyKeys, refreshTokens, rateLimitCounters };
}

async function deleteInBatches(deleteBatch: () => Promise<bigint>): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = Number(await deleteBatch());
    total += deleted;
    if (deleted < BATCH_SIZE) return total;
  }
}

/** Worker role: runs maintenance.cleanup in this process and schedules it every 10 minutes. */
export async function registerCleanupJob(deps: Pick<Deps, "db" | "clock" | "log" | "jobs">): Promise<void> {
  deps.jobs.work("maintenance.cleanup", async () => {
    const deleted = await deleteExpiredRows(deps.db, deps.clock.now());
    deps.log.info({ deleted }, "expired rows deleted");
  });
  await deps.jobs.schedule("maintenance.cleanup", CLEANUP_CRON, {});
}
