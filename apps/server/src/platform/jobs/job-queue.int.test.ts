import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";
import { AppError } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import {
  createJobQueueFor,
  PermanentJobError,
  type JobCatalog,
  type JobKinds,
  type JobQueue,
} from "./job-queue.ts";

const catalog = {
  "test.tx": z.object({ n: z.number() }),
  "test.flaky": z.object({ n: z.number() }),
  "test.dead": z.object({ n: z.number() }),
  "test.later": z.object({ n: z.number() }),
  "test.typed": z.object({ n: z.number() }),
  "test.slow": z.object({ n: z.number() }),
  "test.wake": z.object({ n: z.number() }),
  "test.many": z.object({ n: z.number() }),
} satisfies JobCatalog;
// An older producer that did not validate `n`: what a worker may find in the queue.
const looseCatalog = { "test.typed": z.object({ n: z.unknown() }) } satisfies JobCatalog;
// pg-boss's default expiry for every test job: no test here needs an attempt to expire (job-expiry's do).
const unhurried = { expireInSeconds: 15 * 60 };
const kinds: JobKinds<keyof typeof catalog> = {
  "test.tx": unhurried,
  "test.flaky": unhurried,
  "test.dead": unhurried,
  "test.later": unhurried,
  "test.typed": unhurried,
  "test.slow": unhurried,
  "test.wake": unhurried,
  "test.many": { expireInSeconds: 30 },
};
const looseKinds: JobKinds<keyof typeof looseCatalog> = { "test.typed": unhurried };

let database: TestDatabase;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});
afterAll(async () => {
  await database.drop();
});

async function startQueue<C extends JobCatalog>(
  jobs: C,
  jobKinds: JobKinds<keyof C & string>,
  options: { stopTimeoutMs?: number; metrics?: Metrics; pollIntervalMs?: number } = {},
): Promise<JobQueue<C>> {
  const queue = await createJobQueueFor(jobs, jobKinds, {
    databaseUrl: database.url,
    log: createLogger("silent"),
    pollIntervalMs: 500,
    ...options,
  });
  stops.push(() => queue.stop());
  return queue;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

// The sessions listening for job wake-ups on this test's database.
async function listenerSessions(): Promise<number[]> {
  const { rows } = await sql<{ pid: number }>`
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'turnout-jobs-listener'
      AND query ILIKE 'LISTEN%'`.execute(database.db);
  return rows.map((row) => row.pid);
}

async function readJob(id: string) {
  const { rows } = await sql<{
    state: string;
    retry_limit: number;
    retry_delay: number;
    retry_backoff: boolean;
  }>`
    SELECT state, retry_limit, retry_delay, retry_backoff FROM pgboss.job WHERE id = ${id}`.execute(
    database.db,
  );
  return rows[0];
}

async function countJobsNamed(name: string): Promise<number> {
  const { rows } = await sql<{
    count: number;
  }>`SELECT count(*)::int AS count FROM pgboss.job WHERE name = ${name}`.execute(database.db);
  return rows[0]?.count ?? 0;
}

function isUuid(value: string | null): value is string {
  return value !== null && z.uuid().safeParse(value).success;
}

describe("job queue", () => {
  it("inserts a job sent with a transaction only when that transaction commits", async () => {
    const queue = await startQueue(catalog, kinds);
    const seen: number[] = [];
    queue.work("test.tx", ({ n }) => {
      seen.push(n);
    });

    await expect(
      database.db.transaction().execute(async (trx) => {
        await queue.send("test.tx", { n: 1 }, { trx });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    const committedId = await database.db.transaction().execute(async (trx) => {
      const id = await queue.send("test.tx", { n: 2 }, { trx });
      expect(await countJobsNamed("test.tx")).toBe(0); // not visible outside the transaction yet
      return id;
    });

    if (!isUuid(committedId)) throw new Error("no job id");
    await waitFor(async () => (await readJob(committedId))?.state === "completed");
    expect(seen).toEqual([2]);
    expect(await countJobsNamed("test.tx")).toBe(1);
    // Defaults: 5 retries, exponential backoff from 2 s.
    expect(await readJob(committedId)).toMatchObject({ retry_limit: 5, retry_delay: 2, retry_backoff: true });
  });

  it("sends many jobs in one statement, with their options, only when the transaction commits", async () => {
    const queue = await startQueue(catalog, kinds);
    const seen: number[] = [];
    queue.work(
      "test.many",
      ({ n }) => {
        seen.push(n);
      },
      { concurrency: 4 },
    );
    // The expiry comes from the kind's queue (30 s), like every job's.
    const options = { retryLimit: 12, retryDelaySeconds: 3, retryBackoff: false };
    await expect(
      database.db.transaction().execute(async (trx) => {
        await queue.sendMany("test.many", [{ n: -1 }, { n: -2 }], { trx, ...options });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    const payloads = Array.from({ length: 50 }, (_, n) => ({ n }));
    await database.db.transaction().execute(async (trx) => {
      await queue.sendMany("test.many", payloads, { trx, ...options });
      await queue.sendMany("test.many", [], { trx });
      expect(await countJobsNamed("test.many")).toBe(0);
    });
    await waitFor(() => seen.length === payloads.length);
    expect(seen.sort((a, b) => a - b)).toEqual(payloads.map(({ n }) => n));
    const { rows } = await sql<{
      retry_limit: number;
      retry_delay: number;
      retry_backoff: boolean;
      expire_in: string;
    }>`
      SELECT DISTINCT retry_limit, retry_delay, retry_backoff, expire_in::text
      FROM pgboss.job WHERE name = 'test.many'`.execute(database.db);
    expect(rows).toEqual([{ retry_limit: 12, retry_delay: 3, retry_backoff: false, expire_in: "00:00:30" }]);
    await expect(queue.sendMany("test.many", [{ n: "one" as unknown as number }])).rejects.toThrow();
  });

  it("retries a failing handler with growing delays until it succeeds, running it exactly 3 times", async () => {
    const queue = await startQueue(catalog, kinds);
    const startedAt: number[] = [];
    const attempts: number[] = [];
    queue.work("test.flaky", (_payload, job) => {
      startedAt.push(Date.now());
      attempts.push(job.attempt);
      if (job.attempt < 3) throw new Error(`transient ${job.attempt}`);
    });

    const id = await queue.send("test.flaky", { n: 1 }, { retryDelaySeconds: 1 });
    if (!isUuid(id)) throw new Error("no job id");
    await waitFor(async () => (await readJob(id))?.state === "completed", 15_000);

    expect(attempts).toEqual([1, 2, 3]);
    const [first = 0, second = 0, third = 0] = startedAt;
    // Backoff: the first retry waits 1-2 s, the second 2-4 s (base delay doubled, plus jitter).
    expect(second - first).toBeGreaterThanOrEqual(950);
    expect(third - second).toBeGreaterThanOrEqual(1950);
  });

  it("makes a job dead after its retries, lists it with its error, and runs it again on retryDead", async () => {
    const metrics = createMetrics();
    const queue = await startQueue(catalog, kinds, { metrics });
    let isBroken = true;
    let runs = 0;
    queue.work("test.dead", (_payload, job) => {
      runs++;
      if (isBroken) throw new Error(`broken on attempt ${job.attempt}`);
    });

    const id = await queue.send(
      "test.dead",
      { n: 7 },
      { retryLimit: 2, retryDelaySeconds: 0, retryBackoff: false },
    );
    if (!isUuid(id)) throw new Error("no job id");
    await waitFor(async () => (await queue.listDead()).some((job) => job.id === id));

    expect(runs).toBe(3);
    const [dead] = (await queue.listDead()).filter((job) => job.id === id);
    expect(dead).toMatchObject({
      id,
      name: "test.dead",
      data: { n: 7 },
      error: "broken on attempt 3",
      attempts: 3,
    });
    expect(dead?.failedAt).not.toBeNull();
    expect(await queue.countJobs()).toEqual({ queued: 0, dead: 1 });
    expect(await metrics.registry.metrics()).toMatch(/^jobs_dead 1$/m);

    isBroken = false;
    await queue.retryDead(id);
    await waitFor(async () => (await readJob(id))?.state === "completed");
    expect(runs).toBe(4);
    expect((await queue.listDead()).map((job) => job.id)).not.toContain(id);
    expect(await metrics.registry.metrics()).toMatch(/^jobs_dead 0$/m);
  });

  it("answers job.not_found when retrying a job that is not dead", async () => {
    const metrics = createMetrics();
    const queue = await startQueue(catalog, kinds, { metrics });
    const pendingId = await queue.send("test.dead", { n: 1 }, { startAfter: 3600 });
    if (!isUuid(pendingId)) throw new Error("no job id");
    expect(await metrics.registry.metrics()).toMatch(/^job_queue_depth 1$/m);

    for (const id of [pendingId, randomUUID(), "not-a-uuid"]) {
      const error = await queue.retryDead(id).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: "job.not_found", status: 404 });
    }
    expect((await readJob(pendingId))?.state).toBe("created");
  });

  it("does not run a job before its startAfter", async () => {
    const queue = await startQueue(catalog, kinds);
    const ranAt: number[] = [];
    queue.work("test.later", () => {
      ranAt.push(Date.now());
    });

    const sentAt = Date.now();
    await queue.send("test.later", { n: 1 }, { startAfter: new Date(sentAt + 2000) });
    await sleep(1000);
    expect(ranAt).toHaveLength(0);
    await waitFor(() => ranAt.length === 1, 4000 - (Date.now() - sentAt));
    expect((ranAt[0] ?? 0) - sentAt).toBeGreaterThanOrEqual(2000);
  });

  it("sends a job with an invalid payload straight to dead and keeps working", async () => {
    const producer = await startQueue(looseCatalog, looseKinds);
    const worker = await startQueue(catalog, kinds);
    const received: unknown[] = [];
    worker.work("test.typed", (payload) => {
      received.push(payload);
    });

    const badId = await producer.send("test.typed", { n: "seven" });
    const goodId = await producer.send("test.typed", { n: 7 });
    if (!isUuid(badId) || !isUuid(goodId)) throw new Error("no job id");
    await waitFor(async () => (await readJob(goodId))?.state === "completed");

    expect(received).toEqual([{ n: 7 }]);
    const [dead] = (await worker.listDead()).filter((job) => job.id === badId);
    expect(dead).toMatchObject({ name: "test.typed", data: { n: "seven" }, attempts: 1 });
    expect(dead?.error).toMatch(/^invalid payload/);
  });

  it("makes a job dead at once when its handler throws PermanentJobError", async () => {
    const queue = await startQueue(catalog, kinds);
    let runs = 0;
    queue.work("test.typed", () => {
      runs++;
      throw new PermanentJobError("cannot ever work");
    });

    const id = await queue.send("test.typed", { n: 1 });
    await waitFor(async () => (await queue.listDead()).some((job) => job.id === id));
    expect(runs).toBe(1);
    expect((await queue.listDead()).find((job) => job.id === id)).toMatchObject({
      error: "cannot ever work",
      attempts: 1,
    });
  });

  it("refuses to send a payload that does not match its schema", async () => {
    const queue = await startQueue(catalog, kinds);
    const before = await countJobsNamed("test.typed");
    // @ts-expect-error -- the point is a payload of the wrong type
    await expect(queue.send("test.typed", { n: "seven" })).rejects.toThrow();
    expect(await countJobsNamed("test.typed")).toBe(before);
  });

  it("waits in stop() for a running handler to finish and record its result", async () => {
    const queue = await startQueue(catalog, kinds);
    let isStarted = false;
    let isFinished = false;
    queue.work("test.slow", async () => {
      isStarted = true;
      await sleep(1000);
      isFinished = true;
    });
    const id = await queue.send("test.slow", { n: 1 });
    if (!isUuid(id)) throw new Error("no job id");
    await waitFor(() => isStarted);

    await queue.stop();
    expect(isFinished).toBe(true);
    expect((await readJob(id))?.state).toBe("completed");
  });

  it("gives up waiting after stopTimeoutMs and leaves the running job to be retried", async () => {
    const queue = await startQueue(catalog, kinds, { stopTimeoutMs: 1000 });
    let signal: AbortSignal | undefined;
    queue.work("test.slow", (_payload, job) => {
      signal = job.signal;
      return new Promise((resolve) => {
        job.signal.addEventListener("abort", () => {
          resolve();
        });
      });
    });
    const id = await queue.send("test.slow", { n: 1 });
    if (!isUuid(id)) throw new Error("no job id");
    await waitFor(() => signal !== undefined);

    const stopStartedAt = Date.now();
    await queue.stop();
    expect(Date.now() - stopStartedAt).toBeLessThan(3000);
    expect(signal?.aborted).toBe(true);
    expect((await readJob(id))?.state).toBe("retry");
  });

  it("wakes a worker in another session when a job commits, long before its next poll, also after its listening session was cut", async () => {
    const sender = await startQueue(catalog, kinds); // no handlers: an api process
    const worker = await startQueue(catalog, kinds, { pollIntervalMs: 60_000 });
    const ran: { n: number; at: number }[] = [];
    worker.work(
      "test.wake",
      ({ n }) => {
        ran.push({ n, at: Date.now() });
      },
      { concurrency: 2 },
    );
    await waitFor(async () => (await listenerSessions()).length === 1);
    await sleep(300); // the worker's loops found nothing and now wait for their 60 s poll

    // Fifty jobs in one transaction: one wake-up, then the loops fetch until the queue is empty.
    const committedAt = await database.db.transaction().execute(async (trx) => {
      for (let n = 0; n < 50; n++) await sender.send("test.wake", { n }, { trx });
      return Date.now();
    });
    await waitFor(() => ran.length === 50, 10_000);
    const firstRunAt = Math.min(...ran.map((run) => run.at));
    expect(firstRunAt - committedAt).toBeLessThan(2_000);
    expect(new Set(ran.map((run) => run.n)).size).toBe(50);

    // The listening session dies (a database restart, a proxy cutting it): the worker listens again.
    const [cut] = await listenerSessions();
    await sql`SELECT pg_terminate_backend(${cut})`.execute(database.db);
    await waitFor(async () => {
      const sessions = await listenerSessions();
      return sessions.length === 1 && sessions[0] !== cut;
    });
    const sentAt = Date.now();
    await sender.send("test.wake", { n: 50 });
    await waitFor(() => ran.length === 51, 10_000);
    expect((ran.at(-1)?.at ?? Number.POSITIVE_INFINITY) - sentAt).toBeLessThan(2_000);
  });
});
