import { fileURLToPath } from "node:url";
import { jobPayloadSchemas } from "@turnout/contracts";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { killCatalog, killKinds } from "../../../test/job-kill.support.ts";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";
import { startFixtureProcess } from "../../../test/fixture-process.ts";
import { createLogger } from "../logger.ts";
import { jobKinds } from "./job-kinds.ts";
import { createJobQueue, createJobQueueFor } from "./job-queue.ts";

// pg-boss expires attempts every 10 s (job-queue.ts); one survivor's sweep may come up to two intervals later
// (its timer and the cluster-wide "last swept" mark are out of step), plus a poll and a busy machine's slack.
const SWEEP_SLACK_MS = 2 * 10_000 + 3_000;
const fixture = fileURLToPath(new URL("../../../test/job-kill.fixture.ts", import.meta.url));

let database: TestDatabase;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await database.drop();
});

async function readQueueExpiries(): Promise<Map<string, number | null>> {
  const { rows } = await sql<{ name: string; expire_seconds: number | null }>`
    SELECT name, expire_seconds FROM pgboss.queue`.execute(database.db);
  return new Map(rows.map((row) => [row.name, row.expire_seconds]));
}

async function readJob(id: string) {
  const { rows } = await sql<{ state: string; retry_count: number; expire_seconds: number }>`
    SELECT state, retry_count, extract(epoch FROM expire_in)::int AS expire_seconds
    FROM pgboss.job WHERE id = ${id}`.execute(database.db);
  return rows[0];
}

// Starts the fixture, a worker that takes every kill.* job and never finishes it; killed after the test anyway.
function startHangingWorker(onTaken: (name: string, id: string, at: number) => void) {
  return startFixtureProcess(fixture, { DATABASE_URL: database.url }, cleanups, (line) => {
    const match = /^TAKEN (\S+) (\S+) (\d+)$/.exec(line);
    if (match !== null) onTaken(match[1] ?? "", match[2] ?? "", Number(match[3]));
  });
}

describe("job expiry per kind", () => {
  it("gives every job kind of the app its own expiry, on its queue and on each job sent, also on queues made before", async () => {
    const start = () => createJobQueue({ databaseUrl: database.url, log: createLogger("silent") });
    let queue = await start();
    const expected = new Map(Object.entries(jobKinds).map(([name, kind]) => [name, kind.expireInSeconds]));
    expect(new Set(Object.keys(jobKinds))).toEqual(new Set(Object.keys(jobPayloadSchemas)));
    expect(expected.get("mail.send")).toBe(30);
    const queues = await readQueueExpiries();
    for (const [name, seconds] of expected) expect([name, queues.get(name)]).toEqual([name, seconds]);

    // A queue made by a version that set no expiry (pg-boss's 15 minutes) gets its kind's at the next start.
    await queue.stop();
    await sql`UPDATE pgboss.queue SET expire_seconds = NULL WHERE name IN ('photos.process', 'mail.send')`.execute(
      database.db,
    );
    queue = await start();
    cleanups.push(() => queue.stop());
    expect((await readQueueExpiries()).get("photos.process")).toBe(
      jobKinds["photos.process"].expireInSeconds,
    );

    const uuid = "0190a3e5-0000-7000-8000-000000000001";
    const sent = [
      ["mail.send", await queue.send("mail.send", { mailId: uuid }, { startAfter: 3600 })],
      ["photos.process", await queue.send("photos.process", { photoId: uuid }, { startAfter: 3600 })],
      ["photos.delete-files", await queue.send("photos.delete-files", { keys: ["k"] }, { startAfter: 3600 })],
      ["maintenance.cleanup", await queue.send("maintenance.cleanup", {}, { startAfter: 3600 })],
    ] as const;
    for (const [name, id] of sent) {
      expect([name, (await readJob(id ?? ""))?.expire_seconds]).toEqual([name, expected.get(name)]);
    }
  });

  it("retries a job taken by a SIGKILLed process within its kind's expiry, each kind after its own", async () => {
    const taken = new Map<string, { id: string; at: number }>();
    const hanging = await startHangingWorker((name, id, at) => taken.set(name, { id, at }));
    const queue = await createJobQueueFor(killCatalog, killKinds, {
      databaseUrl: database.url,
      log: createLogger("silent"),
      pollIntervalMs: 500,
    });
    cleanups.push(() => queue.stop());

    const shortId = await queue.send("kill.short", { n: 1 });
    const longId = await queue.send("kill.long", { n: 2 });
    await expect.poll(() => taken.size, { timeout: 10_000, interval: 50 }).toBe(2);
    hanging.child.kill("SIGKILL");
    expect(await hanging.exited).toBe("SIGKILL");
    const short = taken.get("kill.short");
    const long = taken.get("kill.long");
    if (short === undefined || long === undefined) throw new Error("the child took no job");
    expect([short.id, long.id]).toEqual([shortId, longId]);
    expect(await readJob(short.id)).toMatchObject({ state: "active", retry_count: 0, expire_seconds: 3 });
    expect(await readJob(long.id)).toMatchObject({ state: "active", retry_count: 0, expire_seconds: 25 });

    // This process takes over: each job runs again here, as its second attempt, once its kind's expiry passed.
    const reran = new Map<string, { id: string; attempt: number; at: number }>();
    for (const name of ["kill.short", "kill.long"] as const) {
      queue.work(name, (_payload, job) => {
        reran.set(name, { id: job.id, attempt: job.attempt, at: Date.now() });
      });
    }
    const shortExpiryMs = killKinds["kill.short"].expireInSeconds * 1000;
    await expect
      .poll(() => reran.has("kill.short"), { timeout: shortExpiryMs + SWEEP_SLACK_MS, interval: 100 })
      .toBe(true);
    const shortRerun = reran.get("kill.short");
    expect(shortRerun).toMatchObject({ id: short.id, attempt: 2 });
    expect((shortRerun?.at ?? 0) - short.at).toBeGreaterThanOrEqual(shortExpiryMs - 500);

    const longExpiryMs = killKinds["kill.long"].expireInSeconds * 1000;
    const longWaitMs = long.at + longExpiryMs + SWEEP_SLACK_MS - Date.now();
    await expect.poll(() => reran.has("kill.long"), { timeout: longWaitMs, interval: 100 }).toBe(true);
    const longRerun = reran.get("kill.long");
    expect(longRerun).toMatchObject({ id: long.id, attempt: 2 });
    expect((longRerun?.at ?? 0) - long.at).toBeGreaterThanOrEqual(longExpiryMs - 500);
    await expect.poll(async () => (await readJob(long.id))?.state, { timeout: 5_000 }).toBe("completed");
  }, 90_000);
});
