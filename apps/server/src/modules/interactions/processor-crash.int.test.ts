import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Interaction, InteractionStamp } from "@turnout/contracts";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../../test/database.ts";
import { deleteNatsStream, shouldRunNatsTests, TEST_NATS_URL } from "../../../test/nats.ts";
import { createDb } from "../../platform/db.ts";
import { createLogger } from "../../platform/logger.ts";
import { BUILTIN_SOURCE_ID, openInteractionStream } from "./index.ts";
import { appendedBatchOf } from "./interaction-stream.ts";

// DESIGN.md: every accepted interaction reaches the interactions table exactly once, also across a kill -9
// of the processor mid-load. The test appends what a collector would have accepted, runs the processor in a
// child process, kills it with SIGKILL while it loads, starts another, and counts.

const ITEMS = 20_000;
const PER_BATCH = 50;
const fixture = fileURLToPath(new URL("../../../test/interaction-processor.fixture.ts", import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startProcessorChild(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", fixture], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<unknown>((resolve) =>
    child.once("exit", (code, signal) => {
      resolve(signal ?? code);
    }),
  );
  let output = "";
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("READY\n")) resolve();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    void exited.then((how) => {
      reject(new Error(`processor child exited (${String(how)}):\n${output}`));
    });
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  });
  return { child, exited, ready };
}

function interaction(id: string): Interaction {
  return {
    id,
    type: "track",
    name: "clicked",
    timestamp: new Date().toISOString(),
    anonymousId: "crash-anon",
    sessionId: "crash-session",
    properties: { padding: "x".repeat(200) },
  };
}

const stamp: InteractionStamp = {
  sourceId: BUILTIN_SOURCE_ID,
  receivedAt: new Date().toISOString(),
  ip: "203.0.113.0",
  device: "desktop",
  browser: "Chrome",
  os: "Linux",
};

const runNats = await shouldRunNatsTests("interaction processor crash on JetStream");
const modes = [
  { mode: "embedded (PostgreSQL stream)", nats: false },
  ...(runNats ? [{ mode: "cluster (JetStream)", nats: true }] : []),
];

describe.each(modes)("$mode", ({ nats }) => {
  it(
    "loads every appended interaction exactly once across a kill -9 mid-load",
    { timeout: 180_000 },
    async () => {
      const database = await createTestDatabase();
      cleanups.push(() => database.drop());
      const streamName = `interactions_crash_${randomBytes(6).toString("hex")}`;
      if (nats) cleanups.push(() => deleteNatsStream(streamName, { ifExists: true }));
      const env: Record<string, string> = {
        DATABASE_URL: database.url,
        INTERACTIONS_STREAM: streamName,
        ...(nats ? { NATS_URL: TEST_NATS_URL } : {}),
      };

      // A pool without the serving watchdog: on a loaded machine a slow ping must not fail the appends.
      const appendDb = createDb(database.url, 2);
      cleanups.push(() => appendDb.close());
      const stream = await openInteractionStream({
        natsUrl: nats ? TEST_NATS_URL : undefined,
        streamName,
        maxBacklog: 1_000_000,
        maxBacklogMs: 600_000,
        db: appendDb.db,
        log: createLogger("silent"),
      });
      cleanups.push(() => stream.close());
      const ids = Array.from({ length: ITEMS }, () => randomUUID());
      const items = ids.map(interaction);
      for (let start = 0; start < ITEMS; start += PER_BATCH) {
        await stream.append(appendedBatchOf(stamp, items.slice(start, start + PER_BATCH)));
      }
      // A few batches appended twice, as a client's retried request would be (the same items, the same times).
      for (let start = 0; start < 5 * PER_BATCH; start += PER_BATCH) {
        await stream.append(appendedBatchOf(stamp, items.slice(start, start + PER_BATCH)));
      }

      const count = async () => {
        const { rows } = await sql<{ total: number; distinct: number }>`
        SELECT count(*)::int AS total, count(DISTINCT id)::int AS distinct FROM interactions`.execute(
          database.db,
        );
        return rows[0] ?? { total: 0, distinct: 0 };
      };

      const first = startProcessorChild(env);
      await first.ready;
      // Killed as soon as the first load committed: later loads are under way or waiting.
      const deadline = Date.now() + 60_000;
      while ((await count()).total === 0 && Date.now() < deadline) await sleep(5);
      first.child.kill("SIGKILL");
      expect(await first.exited).toBe("SIGKILL");
      const atKill = (await count()).total;
      expect(atKill).toBeGreaterThan(0);
      expect(atKill).toBeLessThan(ITEMS);

      const second = startProcessorChild(env);
      await second.ready;
      await expect.poll(async () => (await count()).total, { timeout: 60_000, interval: 250 }).toBe(ITEMS);
      await sleep(1_000);
      const final = await count();
      expect(final).toEqual({ total: ITEMS, distinct: ITEMS });
      const { rows } = await sql<{ missing: number }>`
      SELECT count(*)::int AS missing FROM unnest(${ids}::text[]) AS wanted(id)
      WHERE NOT EXISTS (SELECT 1 FROM interactions i WHERE i.id = wanted.id)`.execute(database.db);
      expect(rows[0]?.missing).toBe(0);
      await expect.poll(() => stream.backlog(), { timeout: 5_000 }).toBe(0);
    },
  );
});
