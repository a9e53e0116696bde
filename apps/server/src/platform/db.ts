import { Kysely, PostgresDialect, type Transaction } from "kysely";
import pg from "pg";
import type { Database } from "./db-schema.ts";
import { startDbWatchdog, type WatchdogTimings } from "./db-watchdog.ts";
import { createGuardedPool } from "./guarded-pool.ts";

export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;
/** Anything that runs queries: the pool-backed Db or a transaction. Repo functions take this first. */
export type Executor = Db | Trx;

// bigint (int8) columns hold counters and outbox ids that stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface DbTimeouts extends WatchdogTimings {
  /** Longest wait for a pooled session (a free slot or a new connection): a backstop against overload. */
  connectMs: number;
  /** PostgreSQL's statement_timeout: a backstop against a runaway statement, far above any request's. */
  statementMs: number;
}

/**
 * The serving pool's limits (ADR 0007). A server that stops answering is noticed within 1.25 s (a ping every
 * 0.25 s, down after 1 s unanswered) and every request waiting on it then answers 503 at once, inside the
 * 2 s of API.md "Outages"; a server that answers slowly (lock queues, load) is left to finish.
 */
export const SERVING_TIMEOUTS: DbTimeouts = {
  pingIntervalMs: 250,
  downAfterMs: 1_000,
  connectMs: 10_000,
  statementMs: 30_000,
};

export interface DbHandle {
  db: Db;
  pool: pg.Pool;
  close: () => Promise<void>;
}

export interface DbOptions {
  maxConnections?: number;
  /** Omitted: no watchdog and no limits, for migrations, bulk loads and tools (their statements may run long). */
  timeouts?: DbTimeouts;
}

/** Opens a pooled Kysely database on a PostgreSQL URL (`options` as a number: the pool size, no timeouts). */
export function createDb(connectionString: string, options: number | DbOptions = {}): DbHandle {
  const { maxConnections = 10, timeouts } =
    typeof options === "number" ? { maxConnections: options } : options;
  const pool = new pg.Pool({
    connectionString,
    max: maxConnections,
    idleTimeoutMillis: 30_000,
    ...(timeouts === undefined
      ? {}
      : {
          connectionTimeoutMillis: timeouts.connectMs,
          statement_timeout: timeouts.statementMs,
          // A session whose peer vanished without a word (a dropped network path) is noticed by the kernel.
          keepAlive: true,
        }),
  });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on("error", () => undefined);
  const watchdog = timeouts === undefined ? null : startDbWatchdog(connectionString, timeouts);
  const dialectPool = watchdog === null ? pool : createGuardedPool(pool, watchdog);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: dialectPool }) });
  return {
    db,
    pool,
    close: async () => {
      await watchdog?.stop();
      await db.destroy();
    },
  };
}
