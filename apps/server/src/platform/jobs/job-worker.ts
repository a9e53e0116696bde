import type PgBoss from "pg-boss";
import { z } from "zod";
import type { Logger } from "../logger.ts";
import { JOBS_SCHEMA } from "./job-tables.ts";

/*
 * The worker side of the job queue: fetch loops over pg-boss's fetch/complete/fail. We do not use
 * boss.work() because boss.stop() does not wait for a fetch in flight: a job fetched during shutdown would
 * run after the pool closed and sit `active` until it expired. Here stop() awaits every loop, bounded.
 */

export interface JobContext {
  id: string;
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number;
  /** Aborted when the job's time is up or the queue stops without waiting any longer. */
  signal: AbortSignal;
}

export type JobHandler<P> = (payload: P, job: JobContext) => Promise<void> | void;

/** Thrown by a handler (or for an invalid payload) to make the job dead now instead of retrying it. */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

export interface JobWorkerOptions {
  log: Logger;
  pollIntervalMs: number;
  stopTimeoutMs: number;
}

/** Runs handlers for fetched jobs until stop(); wake(name) cuts an idle loop's wait short. */
export function createJobWorkers(boss: PgBoss, { log, pollIntervalMs, stopTimeoutMs }: JobWorkerOptions) {
  const loops: Promise<void>[] = [];
  const sleepers = new Map<string, Set<() => void>>();
  const running = new Map<string, { name: string; abort: AbortController }>();
  let stopping: Promise<void> | undefined;
  // Set once stop() stopped waiting: from then on a late handler must not write its outcome.
  let isAbandoned = false;

  // A wake-up that found no loop asleep (each was fetching, maybe just before the job committed) is kept
  // for the next loop that would sleep, so that fetch is not left to the next poll.
  const missedWakes = new Set<string>();

  function sleep(name: string, ms: number): Promise<void> {
    if (missedWakes.delete(name)) return Promise.resolve();
    return new Promise((resolve) => {
      const set = sleepers.get(name) ?? new Set();
      sleepers.set(name, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  function wake(name: string): void {
    const asleep = [...(sleepers.get(name) ?? [])];
    if (asleep.length === 0) missedWakes.add(name);
    for (const done of asleep) done();
  }

  function wakeAll(): void {
    for (const name of sleepers.keys()) wake(name);
  }

  async function runJob<S extends z.ZodType>(
    job: PgBoss.JobWithMetadata<unknown>,
    schema: S,
    handler: JobHandler<z.output<S>>,
  ): Promise<void> {
    const abort = new AbortController();
    running.set(job.id, { name: job.name, abort });
    const context = { id: job.id, attempt: job.retryCount + 1, signal: abort.signal };
    try {
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) throw new PermanentJobError(`invalid payload: ${z.prettifyError(parsed.error)}`);
      // pg returns the expiry (a numeric) as a string, whatever pg-boss's types say.
      const expireMs = z.coerce.number().positive().parse(job.expireInSeconds) * 1000;
      await runWithin(Promise.resolve(handler(parsed.data, context)), expireMs, abort);
      if (!isAbandoned) await boss.complete(job.name, job.id);
    } catch (thrown) {
      if (isAbandoned) return;
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      const isPermanent = error instanceof PermanentJobError;
      // Spending the remaining retries makes fail() mark the job `failed` (dead) instead of `retry`.
      if (isPermanent) await spendRetries(boss, job);
      const fields = { job: job.name, jobId: job.id, attempt: context.attempt, err: error };
      if (isPermanent || job.retryCount >= job.retryLimit)
        log.error(fields, "job failed for good; dead until retried");
      else log.warn(fields, "job failed; will retry");
      await boss.fail(job.name, job.id, error);
    } finally {
      running.delete(job.id);
    }
  }

  // A loop must never die: a database outage makes fetch/complete/fail throw (the job then expires and retries).
  function startLoop<S extends z.ZodType>(name: string, schema: S, handler: JobHandler<z.output<S>>): void {
    const loop = async () => {
      while (stopping === undefined) {
        try {
          const [job] = await boss.fetch<unknown>(name, { includeMetadata: true, batchSize: 1 });
          if (job === undefined) await sleep(name, pollIntervalMs);
          else await runJob(job, schema, handler);
        } catch (error) {
          log.error({ err: error, job: name }, "job worker loop failed; going on");
          await sleep(name, pollIntervalMs);
        }
      }
    };
    loops.push(loop());
  }

  async function giveUpOnRunningJobs(): Promise<void> {
    isAbandoned = true;
    log.warn({ jobs: [...running.keys()] }, "stopping with jobs still running; they will be retried");
    for (const [id, { name, abort }] of running) {
      abort.abort();
      await boss
        .fail(name, id, new Error("the worker stopped while the job was running"))
        .catch((error: unknown) => {
          log.error({ err: error, jobId: id }, "could not release a running job; it will expire and retry");
        });
    }
  }

  return {
    /** Starts `concurrency` fetch loops for queue `name`. */
    work<S extends z.ZodType>(
      name: string,
      schema: S,
      handler: JobHandler<z.output<S>>,
      concurrency = 1,
    ): void {
      if (stopping !== undefined) throw new Error("the job queue is stopping");
      for (let index = 0; index < concurrency; index++) startLoop(name, schema, handler);
    },
    wake,
    wakeAll,
    /** Stops fetching and waits up to stopTimeoutMs for running handlers; then fails the rest for retry. */
    stop(): Promise<void> {
      stopping ??= (async () => {
        wakeAll();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => {
            resolve(true);
          }, stopTimeoutMs);
        });
        const isTimedOut = await Promise.race([Promise.all(loops).then(() => false), timedOut]);
        clearTimeout(timer);
        if (isTimedOut) await giveUpOnRunningJobs();
      })();
      return stopping;
    },
  };
}

async function spendRetries(boss: PgBoss, job: PgBoss.Job<unknown>): Promise<void> {
  await boss
    .getDb()
    .executeSql(`UPDATE ${JOBS_SCHEMA}.job SET retry_limit = retry_count WHERE name = $1 AND id = $2`, [
      job.name,
      job.id,
    ]);
}

async function runWithin(work: Promise<void>, ms: number, abort: AbortController): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`the job ran longer than ${ms} ms`));
    }, ms);
  });
  try {
    await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
