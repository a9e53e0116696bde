import type { Deps } from "../../deps.ts";
import type { Executor } from "../../platform/db.ts";
import { CLEANUP_BATCH_SIZE, deleteInBatches } from "../../platform/jobs/cleanup.job.ts";

/*
 * auth.token-cleanup: refresh tokens are auth's rows, so auth drops them. They are kept a day past expiry so
 * a late reuse of a rotated token is still recognised as reuse (and revokes its session) rather than as an
 * unknown token.
 */

export const TOKEN_CLEANUP_CRON = "*/10 * * * *";
const REFRESH_TOKEN_GRACE_MS = 24 * 60 * 60 * 1000;

/** Deletes the refresh tokens that expired over a day before `now`, in batches; returns how many. */
export async function deleteExpiredRefreshTokens(db: Executor, now: Date): Promise<number> {
  return deleteInBatches(async () => {
    const result = await db
      .deleteFrom("refresh_tokens")
      .where("id", "in", (eb) =>
        eb
          .selectFrom("refresh_tokens")
          .select("id")
          .where("expires_at", "<", new Date(now.getTime() - REFRESH_TOKEN_GRACE_MS))
          .limit(CLEANUP_BATCH_SIZE),
      )
      .executeTakeFirst();
    return result.numDeletedRows;
  });
}

/** Worker role: runs auth.token-cleanup in this process and schedules it every 10 minutes. */
export async function startTokenCleanup(deps: Pick<Deps, "db" | "clock" | "log" | "jobs">): Promise<void> {
  deps.jobs.work("auth.token-cleanup", async () => {
    const refreshTokens = await deleteExpiredRefreshTokens(deps.db, deps.clock.now());
    deps.log.info({ deleted: { refreshTokens } }, "expired refresh tokens deleted");
  });
  await deps.jobs.schedule("auth.token-cleanup", TOKEN_CLEANUP_CRON, {});
}
