import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createManualClock } from "../../platform/clock.ts";
import type { Db } from "../../platform/db.ts";
import { deleteExpiredRefreshTokens, startTokenCleanup, TOKEN_CLEANUP_CRON } from "./index.ts";

const NOW = new Date("2026-03-01T12:00:00Z");
const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp({ deps: { clock: createManualClock(NOW) } });
});
afterAll(async () => {
  await testApp.close();
});

async function createSession(db: Db): Promise<string> {
  const userId = randomUUID();
  const sessionId = randomUUID();
  await db
    .insertInto("users")
    .values({ id: userId, email: `${userId}@example.test`, name: "Tokens", password_hash: "x", role: "user" })
    .execute();
  await db.insertInto("auth_sessions").values({ id: sessionId, user_id: userId }).execute();
  return sessionId;
}

async function insertRefreshToken(db: Db, sessionId: string, expiresAt: Date): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto("refresh_tokens")
    .values({ id, session_id: sessionId, token_hash: id, expires_at: expiresAt })
    .execute();
  return id;
}

async function tokensOf(db: Db, sessionId: string): Promise<string[]> {
  const rows = await db
    .selectFrom("refresh_tokens")
    .select("id")
    .where("session_id", "=", sessionId)
    .orderBy("expires_at")
    .execute();
  return rows.map((row) => row.id);
}

describe("auth.token-cleanup", () => {
  it("deletes only refresh tokens expired over a day ago, when run as a job", async () => {
    const { db } = testApp.deps;
    const sessionId = await createSession(db);
    await insertRefreshToken(db, sessionId, new Date(NOW.getTime() - 2 * DAY));
    const recentlyExpired = await insertRefreshToken(db, sessionId, new Date(NOW.getTime() - HOUR));
    const live = await insertRefreshToken(db, sessionId, new Date(NOW.getTime() + DAY));

    await startTokenCleanup(testApp.deps);
    const id = await testApp.deps.jobs.send("auth.token-cleanup", {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await sql<{ state: string }>`SELECT state FROM pgboss.job WHERE id = ${id}`.execute(
        db,
      );
      if (rows[0]?.state === "completed") break;
      if (Date.now() > deadline)
        throw new Error(`token cleanup did not complete (state ${rows[0]?.state ?? "none"})`);
      await sleep(50);
    }

    expect(await tokensOf(db, sessionId)).toEqual([recentlyExpired, live]);
  });

  it("is scheduled every 10 minutes", async () => {
    await startTokenCleanup(testApp.deps);
    const { rows } = await sql<{ cron: string; timezone: string }>`
      SELECT cron, timezone FROM pgboss.schedule WHERE name = 'auth.token-cleanup'`.execute(testApp.deps.db);
    expect(rows).toEqual([{ cron: TOKEN_CLEANUP_CRON, timezone: "UTC" }]);
    expect(TOKEN_CLEANUP_CRON).toBe("*/10 * * * *");
  });

  it("deletes a backlog larger than one batch", async () => {
    const { db } = testApp.deps;
    const sessionId = await createSession(db);
    await sql`
      INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at)
      SELECT gen_random_uuid(), ${sessionId}::uuid, 'h' || n, ${new Date(NOW.getTime() - 2 * DAY)}::timestamptz
      FROM generate_series(1, 12001) AS n`.execute(db);
    const live = await insertRefreshToken(db, sessionId, new Date(NOW.getTime() + DAY));

    expect(await deleteExpiredRefreshTokens(db, NOW)).toBe(12001);
    expect(await tokensOf(db, sessionId)).toEqual([live]);
  });
});
