import type { Deps } from "../../deps.ts";
import type { Executor } from "../db.ts";
import { deleteStaleCounters } from "../rate-limit.ts";

/*
 * maintenance.cleanup: drops the platform's rows whose purpose has passed (modules clean their own tables,
 * as auth does its refresh tokens). Idempotency keys answer retries only until they expire. Rate-limit
 * windows last at most an hour, so older counters no longer limit anything.
 *
 * The outbox keeps every unsent row (the relay still owes it to the bus) and sent rows for
 * OUTBOX_RETENTION_HOURS, because a reconnecting realtime client is resumed from recent outbox rows. An inbox
 * record only stops a redelivery of its message, and a message can be delivered again only while its outbox
 * row exists (the relay republishes a row whose `sent` mark was lost) or while the bus still retries it
 * (minutes); so records older than the outbox's retention are dropped with the same cutoff.
 */

export const CLEANUP_CRON = "*/10 * * * *";
const LONGEST_RATE_LIMIT_WINDOW_MS = 60 * 60 * 1000;
// Small batches keep each delete's locks and WAL short even after a long outage left a backlog.
export const CLEANUP_BATCH_SIZE = 5000;

export interface RetentionOptions {
  /** Sent outbox rows and inbox records older than this are deleted. */
  outboxRetentionMs: number;
}

/**
 * Deletes expired idempotency keys, stale rate-limit counters, and sent outbox rows and inbox records past
 * the outbox's retention; in batches, however large the backlog.
 */
export async function deleteExpiredRows(db: Executor, now: Date, retention: RetentionOptions) {
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
            .limit(CLEANUP_BATCH_SIZE)
            .$asTuple("user_id", "key"),
        ),
      )
      .executeTakeFirst();
    return result.numDeletedRows;
  });
  const rateLimitCounters = await deleteStaleCounters(
    db,
    new Date(now.getTime() - LONGEST_RATE_LIMIT_WINDOW_MS),
  );
  const keepSince = new Date(now.getTime() - retention.outboxRetentionMs);
  const outboxRows = await deleteInBatches(async () => {
    // `sent_at < …` never matches an unsent row (NULL), and walks the partial index on sent rows.
    const result = await db
      .deleteFrom("outbox")
      .where("id", "in", (eb) =>
        eb.selectFrom("outbox").select("id").where("sent_at", "<", keepSince).limit(CLEANUP_BATCH_SIZE),
      )
      .executeTakeFirst();
    return result.numDeletedRows;
  });
  const inboxRows = await deleteInBatches(async () => {
    const result = await db
      .deleteFrom("inbox")
      .where((eb) =>
        eb(
          eb.refTuple("consumer", "message_id"),
          "in",
          eb
            .selectFrom("inbox")
            .select(["consumer", "message_id"])
            .where("processed_at", "<", keepSince)
            .limit(CLEANUP_BATCH_SIZE)
            .$asTuple("consumer", "message_id"),
        ),
      )
      .executeTakeFirst();
    return result.numDeletedRows;
  });
  return { idempotencyKeys, rateLimitCounters, outboxRows, inboxRows };
}

/** Runs a delete of at most CLEANUP_BATCH_SIZE rows until one deletes fewer; returns how many went. */
export async function deleteInBatches(deleteBatch: () => Promise<bigint>): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = Number(await deleteBatch());
    total += deleted;
    if (deleted < CLEANUP_BATCH_SIZE) return total;
  }
}

/** Worker role: runs maintenance.cleanup in this process and schedules it every 10 minutes. */
export async function registerCleanupJob(
  deps: Pick<Deps, "db" | "clock" | "log" | "jobs" | "config">,
): Promise<void> {
  const retention = { outboxRetentionMs: deps.config.outboxRetentionHours * 60 * 60 * 1000 };
  deps.jobs.work("maintenance.cleanup", async () => {
    const deleted = await deleteExpiredRows(deps.db, deps.clock.now(), retention);
    deps.log.info({ deleted }, "expired rows deleted");
  });
  await deps.jobs.schedule("maintenance.cleanup", CLEANUP_CRON, {});
}
