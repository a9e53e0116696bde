import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createManualClock } from "../clock.ts";
import type { Db } from "../db.ts";
import { CLEANUP_CRON, deleteExpiredRows, registerCleanupJob } from "./cleanup.job.ts";

const RETENTION = { outboxRetentionMs: 72 * 60 * 60_000 };

const NOW = new Date("2026-03-01T12:00:00Z");
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp({ deps: { clock: createManualClock(NOW) } });
});
afterAll(async () => {
  await testApp.close();
});

async function createUserRow(db: Db): Promise<{ userId: string }> {
  const userId = randomUUID();
  await db
    .insertInto("users")
    .values({
      id: userId,
      email: `${userId}@example.test`,
      name: "Cleanup",
      password_hash: "x",
      role: "user",
    })
    .execute();
  return { userId };
}

async function insertIdempotencyKey(db: Db, userId: string, key: string, expiresAt: Date): Promise<void> {
  await db
    .insertInto("idempotency_keys")
    .values({ user_id: userId, key, request_hash: "h", expires_at: expiresAt })
    .execute();
}

describe("maintenance.cleanup", () => {
  it("deletes only expired idempotency keys and stale rate-limit counters, when run as a job", async () => {
    const { db } = testApp.deps;
    const { userId } = await createUserRow(db);
    await insertIdempotencyKey(db, userId, "expired", new Date(NOW.getTime() - MINUTE));
    await insertIdempotencyKey(db, userId, "live", new Date(NOW.getTime() + MINUTE));
    await db
      .insertInto("rate_limit_counters")
      .values([
        {
          scope: "cleanup-test",
          key: "stale",
          window_started_at: new Date(NOW.getTime() - 2 * HOUR),
          hits: 3,
        },
        {
          scope: "cleanup-test",
          key: "current",
          window_started_at: new Date(NOW.getTime() - 10 * MINUTE),
          hits: 1,
        },
      ])
      .execute();

    await registerCleanupJob(testApp.deps);
    const id = await testApp.deps.jobs.send("maintenance.cleanup", {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await sql<{ state: string }>`SELECT state FROM pgboss.job WHERE id = ${id}`.execute(
        db,
      );
      if (rows[0]?.state === "completed") break;
      if (Date.now() > deadline)
        throw new Error(`cleanup job did not complete (state ${rows[0]?.state ?? "none"})`);
      await sleep(50);
    }

    const keys = await db
      .selectFrom("idempotency_keys")
      .select("key")
      .where("user_id", "=", userId)
      .execute();
    expect(keys.map((row) => row.key)).toEqual(["live"]);
    const counters = await db
      .selectFrom("rate_limit_counters")
      .select("key")
      .where("scope", "=", "cleanup-test")
      .execute();
    expect(counters.map((row) => row.key)).toEqual(["current"]);
  });

  it("is scheduled every 10 minutes", async () => {
    await registerCleanupJob(testApp.deps);
    const { rows } = await sql<{ cron: string; timezone: string }>`
      SELECT cron, timezone FROM pgboss.schedule WHERE name = 'maintenance.cleanup'`.execute(testApp.deps.db);
    expect(rows).toEqual([{ cron: CLEANUP_CRON, timezone: "UTC" }]);
    expect(CLEANUP_CRON).toBe("*/10 * * * *");
  });

  it("deletes a backlog larger than one batch", async () => {
    const { db } = testApp.deps;
    const { userId } = await createUserRow(db);
    await sql`
      INSERT INTO idempotency_keys (user_id, key, request_hash, expires_at)
      SELECT ${userId}::uuid, 'k' || n, 'h', ${new Date(NOW.getTime() - MINUTE)}::timestamptz
      FROM generate_series(1, 12001) AS n`.execute(db);
    await insertIdempotencyKey(db, userId, "live", new Date(NOW.getTime() + MINUTE));

    const deleted = await deleteExpiredRows(db, NOW, { outboxRetentionMs: 72 * HOUR });

    expect(deleted.idempotencyKeys).toBe(12001);
    const keys = await db
      .selectFrom("idempotency_keys")
      .select("key")
      .where("user_id", "=", userId)
      .execute();
    expect(keys.map((row) => row.key)).toEqual(["live"]);
  });

  it("keeps unsent outbox rows and sent ones within OUTBOX_RETENTION_HOURS, deletes older sent rows and inbox records", async () => {
    const { db } = testApp.deps;
    const aggregateId = randomUUID();
    const row = (tag: string, createdAt: Date, sentAt: Date | null) => ({
      aggregate_type: "cleanup-test",
      aggregate_id: aggregateId,
      type: tag,
      subject: "domain.cleanup-test",
      payload: JSON.stringify({ tag }),
      created_at: createdAt,
      sent_at: sentAt,
    });
    const ago = (ms: number) => new Date(NOW.getTime() - ms);
    await db
      .insertInto("outbox")
      .values([
        row("sent-long-ago", ago(10 * DAY), ago(10 * DAY)),
        row("sent-just-past-retention", ago(73 * HOUR), ago(72 * HOUR + MINUTE)),
        row("unsent-for-days", ago(10 * DAY), null),
        row("sent-within-retention", ago(72 * HOUR + HOUR), ago(71 * HOUR)),
        row("sent-recently", ago(MINUTE), ago(MINUTE)),
        row("unsent-recent", ago(MINUTE), null),
      ])
      .execute();
    await db
      .insertInto("inbox")
      .values([
        { consumer: "cleanup-test", message_id: "old", processed_at: ago(10 * DAY) },
        { consumer: "cleanup-test", message_id: "just-past", processed_at: ago(72 * HOUR + MINUTE) },
        { consumer: "cleanup-test", message_id: "within", processed_at: ago(71 * HOUR) },
      ])
      .execute();

    const deleted = await deleteExpiredRows(db, NOW, RETENTION);

    expect(deleted).toMatchObject({ outboxRows: 2, inboxRows: 2 });
    const outbox = await db
      .selectFrom("outbox")
      .select("type")
      .where("aggregate_id", "=", aggregateId)
      .orderBy("id")
      .execute();
    expect(outbox.map((kept) => kept.type)).toEqual([
      "unsent-for-days",
      "sent-within-retention",
      "sent-recently",
      "unsent-recent",
    ]);
    const inbox = await db
      .selectFrom("inbox")
      .select("message_id")
      .where("consumer", "=", "cleanup-test")
      .execute();
    expect(inbox.map((kept) => kept.message_id)).toEqual(["within"]);
  });

  it("deletes an outbox and inbox backlog larger than one batch, and no unsent row among it", async () => {
    const { db } = testApp.deps;
    const old = new Date(NOW.getTime() - 30 * DAY);
    await sql`
      INSERT INTO outbox (aggregate_type, aggregate_id, type, subject, payload, created_at, sent_at)
      SELECT 'backlog', 'a' || (n % 7), 't', 'domain.backlog', '{}'::jsonb, ${old}::timestamptz,
             CASE WHEN n % 1000 = 0 THEN NULL ELSE ${old}::timestamptz END
      FROM generate_series(1, 12000) AS n`.execute(db);
    await sql`
      INSERT INTO inbox (consumer, message_id, processed_at)
      SELECT 'backlog', 'm' || n, ${old}::timestamptz FROM generate_series(1, 11000) AS n`.execute(db);

    const deleted = await deleteExpiredRows(db, NOW, RETENTION);

    expect(deleted.outboxRows).toBe(11_988);
    expect(deleted.inboxRows).toBe(11_000);
    const { rows } = await sql<{ unsent: number; sent: number }>`
      SELECT count(*) FILTER (WHERE sent_at IS NULL) AS unsent, count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent
      FROM outbox WHERE aggregate_type = 'backlog'`.execute(db);
    expect(rows).toEqual([{ unsent: 12, sent: 0 }]);
  });

  it("reads the retention from OUTBOX_RETENTION_HOURS (default 72)", () => {
    expect(testApp.deps.config.outboxRetentionHours).toBe(72);
  });
});
