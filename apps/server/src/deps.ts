import type { Config, Secrets } from "./config.ts";
import type { Bus } from "./platform/bus/bus.ts";
import { createMemoryBus } from "./platform/bus/memory-bus.ts";
import { connectNatsBus } from "./platform/bus/nats-bus.ts";
import { type Clock, systemClock } from "./platform/clock.ts";
import type { Db } from "./platform/db.ts";
import { createJobQueue, type JobQueue } from "./platform/jobs/job-queue.ts";
import type { Logger } from "./platform/logger.ts";
import { createMetrics, type Metrics } from "./platform/metrics.ts";
import { createStorage } from "./platform/storage/create-storage.ts";
import type { Storage } from "./platform/storage/storage.ts";

/** Everything a role or module needs, built once by createDeps (in main.ts or a test) and passed down. */
export interface Deps {
  config: Readonly<Config>;
  secrets: Secrets;
  db: Db;
  /** URL of the database in use (embedded or DATABASE_URL), for sessions outside the pool (LISTEN). */
  databaseUrl: string;
  bus: Bus;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  jobs: JobQueue;
  /** Uploaded files: the local disk or an S3-compatible bucket (config.storage). */
  storage: Storage;
}

/** What createDeps starts from: the caller opened the database (and migrated it) and made the logger. */
export type DepsBase = Pick<Deps, "config" | "secrets" | "db" | "databaseUrl" | "log">;

export interface CreateDepsOptions {
  /** Told of each started dependency in start order, so the caller undoes them in reverse. */
  onStop: (name: string, stop: () => Promise<unknown>) => void;
  /** Job polling; tests poll faster than the 2 s default so their jobs run within a test's time. */
  jobPollIntervalMs?: number;
  /** Parts a test brings itself: a manual clock, a logger it reads. */
  overrides?: Partial<Pick<Deps, "clock" | "log" | "metrics">>;
}

/**
 * The one way to build Deps: metrics, the job queue and the bus (NATS when NATS_URL is set, else in-process).
 * main.ts and the test app both call it, so a test runs with what production wires.
 */
export async function createDeps(base: DepsBase, options: CreateDepsOptions): Promise<Deps> {
  const { config } = base;
  const overrides = options.overrides ?? {};
  const log = overrides.log ?? base.log;
  const metrics = overrides.metrics ?? createMetrics();
  const jobs = await createJobQueue({
    databaseUrl: base.databaseUrl,
    log,
    metrics,
    pollIntervalMs: options.jobPollIntervalMs,
    // Half the shutdown budget for running jobs, so the steps after it still fit.
    stopTimeoutMs: config.shutdownTimeoutMs / 2,
  });
  options.onStop("job queue", () => jobs.stop());
  const bus: Bus = config.natsUrl
    ? await connectNatsBus(config.natsUrl, { name: "turnout", streamReplicas: config.bus.streamReplicas })
    : createMemoryBus();
  options.onStop("bus", () => bus.close());
  const clock = overrides.clock ?? systemClock;
  const storage = createStorage(config.storage, base.secrets.urlSigningSecret, clock);
  options.onStop("storage", () => {
    storage.close();
    return Promise.resolve();
  });
  return { ...base, log, metrics, jobs, bus, clock, storage };
}
