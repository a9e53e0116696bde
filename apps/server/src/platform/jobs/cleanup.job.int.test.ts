import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createManualClock } from "../clock.ts";
import type { Db } from "../db.ts";
import { CLEANUP_CRON, deleteExpiredRows, registerCleanupJob } from "./cleanup.job.ts";

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

async function createSession(db: Db): Promise<{ userId: string; sessionId: string }> {
  const userId = randomUUID();
  const sessionId = randomUUID();
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
  await db.insertInto("auth_sessions").values({ id: sessionId, user_id: userId }).execute();
  return { userId, sessionId };
}

async function insertRefreshToken(db: Db, sessionId: string, expiresAt: Date): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto("refresh_tokens")
    .values({ id, session_id: sessionId, token_hash: id, expires_at: expiresAt })
    .execute();
  return id;
}

async function insertIdempotencyKey(db: Db, userId: string, key: string, expiresAt: Date): Promise<void> {
  await db
    .insertInto("idempotency_keys")
    .values({ user_id: userId, key, request_hash: "h", expires_at: expiresAt })
    .execute();
}

describe("maintenance.cleanup", () => {
  it("deletes only expired idempotency keys and refresh tokens expired over a day ago, when run as a job", async () => {
    const { db } = testApp.deps;
    const { userId, sessionId } = await createSession(db);
    await insertIdempotencyKey(db, userId, "expired", new Date(NOW.getTime() - MINUTE));
    await insertIdempotencyKey(db, userId, "live", new Date(NOW.getTime() + MINUTE));
    await insertRefreshToken(db, sessionId, new Date(NOW.getTime() - 2 * DAY));
    const recentlyExpired = await insertRefreshToken(db, sessionId, new Date(NOW.getTime() - HOUR));
    const live = await insertRefreshToken(db, sessionId, new Date(NOW.getTime() + DAY));
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
    const tokens = await db
      .selectFrom("refresh_tokens")
      .select("id")
      .where("session_id", "=", sessionId)
      .orderBy("expires_at")
      .execute();
    expect(tokens.map((row) => row.id)).toEqual([recentlyExpired, live]);
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
    const { userId } = await createSession(db);
    await sql`
      INSERT INTO idempotency_keys (user_id, key, request_hash, expires_at)
      SELECT ${userId}::uuid, 'k' || n, 'h', ${new Date(NOW.getTime() - MINUTE)}::timestamptz
      FROM generate_series(1, 12001) AS n`.execute(db);
    await insertIdempotencyKey(db, userId, "live", new Date(NOW.getTime() + MINUTE));

    const deleted = await deleteExpiredRows(db, NOW);

    expect(deleted.idempotencyKeys).toBe(12001);
    const keys = await db
      .selectFrom("idempotency_keys")
      .select("key")
      .where("user_id", "=", userId)
      .execute();
    expect(keys.map((row) => row.key)).toEqual(["live"]);
  });
});
