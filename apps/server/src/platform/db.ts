import { Kysely, PostgresDialect, type Transaction } from "kysely";
import pg from "pg";
import type { Database } from "./db-schema.ts";
import { createGuardedPool, type DbTimeouts } from "./guarded-pool.ts";

export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;
/** Anything that runs queries: the pool-backed Db or a transaction. Repo functions take this first. */
export type Executor = Db | Trx;
export type { DbTimeouts } from "./guarded-pool.ts";

// bigint (int8) columns hold counters and outbox ids that stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/**
 * Timeouts of the pool that serves requests and background work (ADR 0007): together they keep a request
 * that needs a stalled or lost database under the 2 s of API.md "Outages". Waiting for a connection (a free
 * slot or a new session) and one statement may each take 1.5 s; PostgreSQL cancels a statement after 1.2 s
 * itself, so a merely slow statement ends cleanly (57014, a 503) before the client gives up on the session.
 */
export const SERVING_TIMEOUTS: DbTimeouts = { connectMs: 1_500, statementMs: 1_200, queryMs: 1_500 };

export interface DbHandle {
  db: Db;
  pool: pg.Pool;
  close: () => Promise<void>;
}

export interface DbOptions {
  maxConnections?: number;
  /** Omitted: no timeouts, for migrations, bulk loads and tools whose statements may rightly run long. */
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
      : { connectionTimeoutMillis: timeouts.connectMs, statement_timeout: timeouts.statementMs }),
  });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on("error", () => undefined);
  const dialectPool = timeouts === undefined ? pool : createGuardedPool(pool, timeouts.queryMs);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: dialectPool }) });
  return { db, pool, close: () => db.destroy() };
}
