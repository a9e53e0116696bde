import { Kysely, PostgresDialect, type Transaction } from "kysely";
import pg from "pg";
import type { Database } from "./db-schema.ts";

export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;
/** Anything that runs queries: the pool-backed Db or a transaction. Repo functions take this first. */
export type Executor = Db | Trx;

// bigint (int8) columns hold counters and outbox ids that stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface DbHandle {
  db: Db;
  pool: pg.Pool;
  close: () => Promise<void>;
}

/** Opens a pooled Kysely database on a PostgreSQL URL. */
export function createDb(connectionString: string, maxConnections = 10): DbHandle {
  const pool = new pg.Pool({ connectionString, max: maxConnections, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on("error", () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, pool, close: () => db.destroy() };
}
