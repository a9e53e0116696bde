import type { Config, Secrets } from "./config.ts";
import type { Bus } from "./platform/bus/bus.ts";
import type { Clock } from "./platform/clock.ts";
import type { Db } from "./platform/db.ts";
import type { JobQueue } from "./platform/jobs/job-queue.ts";
import type { Logger } from "./platform/logger.ts";
import type { Metrics } from "./platform/metrics.ts";

/** Everything a role or module needs, wired once in main.ts (or a test) and passed down. */
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
}
