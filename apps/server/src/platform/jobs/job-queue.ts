import { jobPayloadSchemas, type DeadJob } from "@turnout/contracts";
import { CompiledQuery } from "kysely";
import PgBoss from "pg-boss";
import type { z } from "zod";
import type { Executor } from "../db.ts";
import { withDeadline } from "../deadline.ts";
import { serviceUnavailable } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { jobKinds, type JobKind, type JobKinds } from "./job-kinds.ts";
import { countJobs, findDeadJobQueue, JOBS_SCHEMA, listDeadJobs, type JobCounts } from "./job-tables.ts";
import { createJobNotifier, listenForJobs, type JobListener } from "./job-wakeups.ts";
import { createJobWorkers, type JobHandler } from "./job-worker.ts";

export { PermanentJobError, type JobContext, type JobHandler } from "./job-worker.ts";
export type { JobKind, JobKinds } from "./job-kinds.ts";

/*
 * Durable background jobs on pg-boss 10, in the application's own PostgreSQL (schema `pgboss`).
 * A failed job is retried with exponential backoff; once its retries are spent it stays `failed` ("dead")
 * where an admin can list and retry it. Handlers run in job-worker.ts.
 */

/** Job names and their payload schemas; the app's catalog is `jobPayloadSchemas` from contracts. */
export type JobCatalog = Record<string, z.ZodType<object>>;
type AppCatalog = typeof jobPayloadSchemas;

export const DEFAULT_RETRY_LIMIT = 5;
export const DEFAULT_RETRY_DELAY_SECONDS = 2;
const DEAD_JOB_RETENTION_SECONDS = 14 * 24 * 60 * 60;
const MIN_POLL_INTERVAL_MS = 500;
// pg-boss's own pool has no watchdog: backstops only, as slow is not down (ADR 0007). A session wait over
// 10 s or a server silent for 30 s fails the operation, which pg-boss retries.
const CONNECT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_MS = 30_000;
// pg-boss hands its options to pg.Pool; its typings only omit these two settings.
const POOL_TIMEOUTS = { connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: QUERY_TIMEOUT_MS };
const MAINTENANCE_INTERVAL_SECONDS = 10;

// The admin routes read and retry jobs through that pool, within API.md's 2 s for an outage.
const REQUEST_DEADLINE_MS = 1_500;

export interface SendOptions {
  /** Insert the job in this transaction: it exists (and runs) only if the transaction commits. */
  trx?: Executor;
  /** When the job may run first: a moment, or a delay in seconds. */
  startAfter?: Date | number;
  /** With singletonSeconds, at most one job per key per time slot (pg-boss throttling). */
  singletonKey?: string;
  singletonSeconds?: number;
  /** Retries after the first attempt (so 5 means up to 6 attempts). Default 5. */
  retryLimit?: number;
  /** Base delay before a retry; with backoff it doubles each retry (plus jitter). Default 2 s. */
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
}

export interface JobQueue<C extends JobCatalog = AppCatalog> {
  /** Validates and enqueues a job; the id, or null when singleton throttling dropped it. */
  send<N extends keyof C & string>(
    name: N,
    data: z.input<C[N]>,
    options?: SendOptions,
  ): Promise<string | null>;
  /**
   * Validates and enqueues one job of `name` per payload in one statement, all with the same options (no
   * singleton throttling); with `trx`, they exist only if it commits. For many jobs at once (a mail per person).
   */
  sendMany<N extends keyof C & string>(
    name: N,
    payloads: readonly z.input<C[N]>[],
    options?: Omit<SendOptions, "singletonKey" | "singletonSeconds">,
  ): Promise<void>;
  /** Runs `handler` for jobs of `name` in this process (worker role), `concurrency` at a time. */
  work<N extends keyof C & string>(
    name: N,
    handler: JobHandler<z.output<C[N]>>,
    options?: { concurrency?: number },
  ): void;
  /** Sends `name` on a cron schedule (UTC), from whichever process's clock fires first. */
  schedule<N extends keyof C & string>(name: N, cron: string, data: z.input<C[N]>): Promise<void>;
  /** Dead jobs, the most recently failed first. */
  listDead(options?: { limit?: number }): Promise<DeadJob[]>;
  /** Gives a dead job one more attempt; AppError job.not_found when `id` is not a dead job. */
  retryDead(id: string): Promise<void>;
  countJobs(): Promise<JobCounts>;
  /**
   * Cuts short the idle wait of this process's loops for `name` at once: for a job sent in a transaction, called
   * after it committed (loops in other processes are woken by the send's notification at that commit).
   */
  wake(name: keyof C & string): void;
  /** Stops fetching and waits (bounded) for running handlers; a handler still running is failed for retry. */
  stopWorking(): Promise<void>;
  /** stopWorking(), then closes pg-boss and its pool. */
  stop(): Promise<void>;
}

export interface JobQueueOptions {
  databaseUrl: string;
  log: Logger;
  /** The job gauges read their counts through this queue on scrape. */
  metrics?: Metrics;
  /** How often an idle worker looks for jobs; pg-boss's floor is 500 ms. Default 2000. */
  pollIntervalMs?: number;
  /** How long stop() waits for running handlers. Default 5000. */
  stopTimeoutMs?: number;
  poolSize?: number;
}

/** Starts the app's job queue (creates pg-boss's schema and every queue of the contracts catalog). */
export function createJobQueue(options: JobQueueOptions): Promise<JobQueue> {
  return createJobQueueFor(jobPayloadSchemas, jobKinds, options);
}

/**
 * Starts a job queue for any catalog of job names and payload schemas (tests bring their own), each name's
 * queue set to its kind's settings.
 */
export async function createJobQueueFor<C extends JobCatalog>(
  catalog: C,
  kinds: JobKinds<keyof C & string>,
  options: JobQueueOptions,
): Promise<JobQueue<C>> {
  const { log } = options;
  const pollIntervalMs = Math.max(options.pollIntervalMs ?? 2000, MIN_POLL_INTERVAL_MS);
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const boss = new PgBoss({
    connectionString: options.databaseUrl,
    schema: JOBS_SCHEMA,
    max: options.poolSize ?? 4,
    application_name: "turnout-jobs",
    ...POOL_TIMEOUTS,
    retryLimit: DEFAULT_RETRY_LIMIT,
    retryDelay: DEFAULT_RETRY_DELAY_SECONDS,
    retryBackoff: true,
    // How often one process of the cluster expires the jobs a dead process had taken (pg-boss's default: 2 min).
    maintenanceIntervalSeconds: MAINTENANCE_INTERVAL_SECONDS,
    // Dead jobs stay in the live table (listable, retryable) this long before pg-boss archives them.
    archiveFailedAfterSeconds: DEAD_JOB_RETENTION_SECONDS,
  });
  // pg-boss's pool.end() resolves before its connections finish closing, so when the embedded PostgreSQL
  // stops right after, those connections report being terminated: expected once stopping, not an error.
  let isStopping = false;
  boss.on("error", (error) => {
    if (isStopping) log.debug({ err: error }, "job queue connection closed while stopping");
    else log.error({ err: error }, "job queue error");
  });
  await boss.start();
  try {
    await ensureQueues(boss, Object.keys(catalog), kinds);
  } catch (error) {
    await boss.stop({ graceful: false });
    throw error;
  }

  const workers = createJobWorkers(boss, { log, pollIntervalMs, stopTimeoutMs });
  const notifyJobSent = createJobNotifier();
  // Only a process that runs handlers listens for other processes' jobs (started by the first work()).
  let listener: JobListener | undefined;
  const stopListening = async () => {
    await listener?.stop();
  };

  const queue: JobQueue<C> = {
    async send(name, data, sendOptions = {}) {
      const payload = catalogSchema(catalog, name).parse(data);
      const { trx } = sendOptions;
      const id = await boss.send(name, payload, toBossSendOptions(sendOptions));
      // Workers in every process hear of the job when it becomes visible: at the transaction's commit.
      if (trx === undefined) {
        await notifyJobSent((text, values) => boss.getDb().executeSql(text, values), name);
        // Visible now, so a worker in this process need not wait for the notification's round trip.
        workers.wake(name);
      } else {
        await notifyJobSent((text, values) => trx.executeQuery(CompiledQuery.raw(text, values)), name, trx);
      }
      return id;
    },
    async sendMany(name, payloads, sendOptions = {}) {
      if (payloads.length === 0) return;
      const schema = catalogSchema(catalog, name);
      const common = toBossInsert(sendOptions);
      const jobs = payloads.map((data) => ({ ...common, name, data: schema.parse(data) }));
      const { trx } = sendOptions;
      if (trx === undefined) {
        await boss.insert(jobs);
        await notifyJobSent((text, values) => boss.getDb().executeSql(text, values), name);
        workers.wake(name);
      } else {
        await boss.insert(jobs, { db: toBossDb(trx) });
        await notifyJobSent((text, values) => trx.executeQuery(CompiledQuery.raw(text, values)), name, trx);
      }
    },
    work(name, handler, workOptions = {}) {
      workers.work(name, catalogSchema(catalog, name), handler, workOptions.concurrency);
      listener ??= listenForJobs({
        databaseUrl: options.databaseUrl,
        log,
        onWake: (woken) => {
          workers.wake(woken);
        },
        onWakeAll: () => {
          workers.wakeAll();
        },
      });
    },
    async schedule(name, cron, data) {
      await boss.schedule(name, cron, catalogSchema(catalog, name).parse(data), { tz: "UTC" });
    },
    listDead: ({ limit = 100 } = {}) => withinRequestDeadline(listDeadJobs(boss.getDb(), limit)),
    async retryDead(id) {
      const name = await withinRequestDeadline(findDeadJobQueue(boss.getDb(), id));
      await withinRequestDeadline(boss.retry(name, id));
      workers.wake(name);
    },
    countJobs: () => countJobs(boss.getDb()),
    wake: (name) => {
      workers.wake(name);
    },
    async stopWorking() {
      await stopListening();
      await workers.stop();
    },
    async stop() {
      await stopListening();
      await workers.stop();
      isStopping = true;
      await boss.stop({ graceful: true, wait: true, timeout: 1000 });
    },
  };
  if (options.metrics) installJobStats(options.metrics, () => queue.countJobs(), log);
  return queue;
}

function withinRequestDeadline<T>(work: Promise<T>): Promise<T> {
  return withDeadline(work, REQUEST_DEADLINE_MS, () =>
    serviceUnavailable(new Error(`job queue: no answer within ${REQUEST_DEADLINE_MS} ms`)),
  );
}

// Each new queue attaches a partition to pgboss.job, and two attaches at once can deadlock (also between two
// processes starting together), so queues are created one at a time and a deadlock victim tries again.
// A job's expiry is its queue's (pg-boss copies it into each job it inserts, scheduled ones too), so a queue
// created by an older version gets its kind's expiry here; jobs already waiting keep theirs.
async function ensureQueues(
  boss: PgBoss,
  names: string[],
  kinds: Readonly<Record<string, JobKind | undefined>>,
): Promise<void> {
  const existing = new Map((await boss.getQueues()).map((queue) => [queue.name, queue]));
  for (const name of names) {
    const kind = kinds[name];
    if (kind === undefined) throw new Error(`job ${name} has no kind settings`);
    const queueOptions = { name, expireInSeconds: kind.expireInSeconds };
    const queue = existing.get(name);
    if (queue !== undefined) {
      if (queue.expireInSeconds !== kind.expireInSeconds) await boss.updateQueue(name, queueOptions);
      continue;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await boss.createQueue(name, queueOptions);
        break;
      } catch (error) {
        const isDeadlock = error instanceof Error && "code" in error && error.code === "40P01";
        if (!isDeadlock || attempt >= 5) throw error;
      }
    }
  }
}

function catalogSchema<C extends JobCatalog, N extends keyof C & string>(catalog: C, name: N): C[N] {
  const schema = catalog[name];
  if (schema === undefined) throw new Error(`unknown job ${name}`);
  return schema;
}

// pg-boss rejects an option that is present but undefined, so only the given ones are passed.
function toBossSendOptions(options: SendOptions): PgBoss.SendOptions {
  const result: PgBoss.SendOptions = {};
  if (options.trx !== undefined) result.db = toBossDb(options.trx);
  if (options.startAfter !== undefined) result.startAfter = options.startAfter;
  if (options.singletonKey !== undefined) result.singletonKey = options.singletonKey;
  if (options.singletonSeconds !== undefined) result.singletonSeconds = options.singletonSeconds;
  if (options.retryLimit !== undefined) result.retryLimit = options.retryLimit;
  if (options.retryDelaySeconds !== undefined) result.retryDelay = options.retryDelaySeconds;
  if (options.retryBackoff !== undefined) result.retryBackoff = options.retryBackoff;
  return result;
}

// The same options as a row of pg-boss's insert(), which takes a delay as an interval's text.
function toBossInsert(options: SendOptions): Omit<PgBoss.JobInsert, "name"> {
  const result: Omit<PgBoss.JobInsert, "name"> = {};
  if (options.startAfter instanceof Date) result.startAfter = options.startAfter.toISOString();
  else if (options.startAfter !== undefined) result.startAfter = `${options.startAfter} seconds`;
  if (options.retryLimit !== undefined) result.retryLimit = options.retryLimit;
  if (options.retryDelaySeconds !== undefined) result.retryDelay = options.retryDelaySeconds;
  if (options.retryBackoff !== undefined) result.retryBackoff = options.retryBackoff;
  return result;
}

// pg-boss runs its insert through any `{ executeSql }`, so a Kysely transaction can carry the job.
function toBossDb(trx: Executor): PgBoss.Db {
  return { executeSql: (text, values) => trx.executeQuery(CompiledQuery.raw(text, values)) };
}

// A scrape must not fail because the database blinked: report the last counts seen instead.
function installJobStats(metrics: Metrics, count: () => Promise<JobCounts>, log: Logger): void {
  let last: JobCounts = { queued: 0, dead: 0 };
  metrics.jobStats.read = async () => {
    try {
      last = await count();
    } catch (error) {
      log.warn({ err: error }, "could not count jobs for metrics");
    }
    return last;
  };
}
