import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";
import { startFixtureProcess } from "../../../test/fixture-process.ts";
import { deleteNatsStream, shouldRunNatsTests, TEST_NATS_URL } from "../../../test/nats.ts";
import { connectNatsBus } from "../bus/nats-bus.ts";
import type { Db } from "../db.ts";
import { createLogger } from "../logger.ts";
import { consumeDomainEvents } from "./inbox.ts";
import { CRASH_CONSUMER, createAppliedTable, recordApplication } from "../../../test/outbox-crash.support.ts";
import { appendOutbox } from "./outbox.ts";

/*
 * The crash claim: every outbox row is delivered and applied exactly once in effect, across a kill -9 of
 * the relay mid-stream. A real child process runs the relay; 10,000 rows; the consumer counts applications.
 */

const ROWS = 10_000;
const KILL_AFTER = 1_234;
const DEADLINE_MS = 60_000;
const fixture = fileURLToPath(new URL("../../../test/outbox-crash.fixture.ts", import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// Starts the fixture and resolves once its relay runs; it is killed at the end of the test in any case.
const startRelayChild = (env: Record<string, string>) => startFixtureProcess(fixture, env, cleanups);

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  await createAppliedTable(database.db);
  return database;
}

// 10,000 rows in four transactions over ten interleaved aggregates.
async function writeRows(db: Db): Promise<void> {
  for (let chunk = 0; chunk < 4; chunk++) {
    await db.transaction().execute(async (trx) => {
      for (let i = chunk * (ROWS / 4); i < (chunk + 1) * (ROWS / 4); i++) {
        await appendOutbox(trx, {
          aggregateType: "event",
          aggregateId: `agg-${i % 10}`,
          type: "event.updated.v1",
          data: { i },
        });
      }
    });
  }
}

async function counts(db: Db) {
  const row = await sql<{ applied: number; unsent: number }>`
    SELECT (SELECT count(*) FROM applied)::int AS applied,
           (SELECT count(*) FROM outbox WHERE sent_at IS NULL)::int AS unsent`.execute(db);
  return row.rows[0] ?? { applied: 0, unsent: ROWS };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// Exactly ROWS applications, each once, of exactly the outbox's ids, each aggregate in id order.
async function expectAppliedExactlyOnce(db: Db): Promise<void> {
  const result = await sql<{
    total: number;
    duplicated: number;
    missing: number;
    stray: number;
    reordered: number;
  }>`
    SELECT (SELECT count(*) FROM applied)::int AS total,
           (SELECT count(*) FROM applied WHERE n <> 1)::int AS duplicated,
           (SELECT count(*) FROM outbox o WHERE NOT EXISTS
              (SELECT 1 FROM applied a WHERE a.message_id = o.id::text))::int AS missing,
           (SELECT count(*) FROM applied a WHERE NOT EXISTS
              (SELECT 1 FROM outbox o WHERE o.id::text = a.message_id))::int AS stray,
           (SELECT count(*) FROM (
              SELECT message_id::bigint - lag(message_id::bigint) OVER w AS step
              FROM applied WINDOW w AS (PARTITION BY aggregate_id ORDER BY first_applied)) steps
            WHERE step < 0)::int AS reordered`.execute(db);
  expect(result.rows[0]).toEqual({ total: ROWS, duplicated: 0, missing: 0, stray: 0, reordered: 0 });
}

interface CrashRun {
  name: string;
  db: Db;
  env: Record<string, string>;
  /** What "mid-stream" is measured by: rows applied (consumer in the child) or rows sent (relay only). */
  progress: (c: { applied: number; unsent: number }) => number;
  what: "applied" | "sent";
}

async function crashAndRecover({ name, db, env, progress, what }: CrashRun): Promise<void> {
  await writeRows(db);
  const first = await startRelayChild(env);
  const firstReadyAt = performance.now();
  await waitFor(`${KILL_AFTER} rows`, async () => progress(await counts(db)) >= KILL_AFTER);
  first.child.kill("SIGKILL");
  expect(await first.exited).toBe("SIGKILL");
  const killedAfterMs = performance.now() - firstReadyAt;
  const atKill = await counts(db);
  expect(atKill.unsent).toBeGreaterThan(0);
  expect(progress(atKill)).toBeLessThan(ROWS);

  await startRelayChild(env);
  const secondReadyAt = performance.now();
  await waitFor("every row sent and applied", async () => {
    const now = await counts(db);
    return now.unsent === 0 && now.applied >= ROWS;
  });
  const recoveredMs = performance.now() - secondReadyAt;
  await expectAppliedExactlyOnce(db);

  const firstRate = Math.round((progress(atKill) / killedAfterMs) * 1000);
  const secondRate = Math.round((atKill.unsent / recoveredMs) * 1000);
  process.stdout.write(
    `outbox crash test (${name}): ${ROWS} rows; kill -9 after ${Math.round(killedAfterMs)} ms with ` +
      `${ROWS - atKill.unsent} sent and ${atKill.applied} applied (${firstRate} rows/s ${what}); restart relayed ` +
      `the other ${atKill.unsent} in ${Math.round(recoveredMs)} ms (${secondRate} rows/s, sent and applied); ` +
      `every row applied exactly once\n`,
  );
}

const itWithNats = (await shouldRunNatsTests("outbox crash test on NATS")) ? it : it.skip;

describe("outbox crash safety", () => {
  it("applies every row exactly once across a kill -9 of the relay and its consumer (in-process bus)", async () => {
    const database = await freshDatabase();
    await crashAndRecover({
      name: "in-process bus",
      db: database.db,
      env: { DATABASE_URL: database.url, CRASH_WITH_CONSUMER: "1" },
      progress: (c) => c.applied,
      what: "applied",
    });
  }, 180_000);

  itWithNats(
    "applies every row exactly once across a kill -9 of the relay publishing to JetStream",
    async () => {
      const database = await freshDatabase();
      const suffix = randomUUID().replaceAll("-", "").slice(0, 12);
      const stream = { name: `OUTBOX_CRASH_${suffix}`, subjectPrefix: `outbox_crash_${suffix}` };
      // The stream does not exist yet if the test fails early; cleanup must not mask that failure.
      cleanups.push(() => deleteNatsStream(stream.name, { ifExists: true }));
      const bus = await connectNatsBus(TEST_NATS_URL, { name: "outbox-crash-test" });
      cleanups.push(() => bus.close());
      const deps = { db: database.db, bus, log: createLogger("silent") };
      const sub = await consumeDomainEvents(deps, { name: CRASH_CONSUMER, stream }, recordApplication);
      cleanups.push(() => sub.unsubscribe());

      await crashAndRecover({
        name: "NATS JetStream",
        db: database.db,
        env: {
          DATABASE_URL: database.url,
          CRASH_NATS_URL: TEST_NATS_URL,
          CRASH_STREAM: stream.name,
          CRASH_PREFIX: stream.subjectPrefix,
        },
        progress: (c) => ROWS - c.unsent,
        what: "sent",
      });
    },
    180_000,
  );
});
