import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";
import type pg from "pg";
import { isDatabaseOutage } from "./db-unavailable.ts";
import type { DbWatchdog } from "./db-watchdog.ts";
import { serviceUnavailable } from "./errors.ts";

/*
 * A pg.Pool as Kysely sees it, failing fast while the watchdog (db-watchdog.ts) says the database is down:
 * a new request is refused at once, one waiting for a session stops waiting, and every session in use is
 * cut (its socket destroyed), so the statement on it fails now, and so does Kysely's ROLLBACK after it,
 * instead of queueing behind the stalled statement. A cut or broken session is discarded on release, never
 * handed to the next caller. Connection-level failures become 503 service.unavailable.
 */

/** Wraps `pool` for Kysely's PostgresDialect. */
export function createGuardedPool(pool: pg.Pool, watchdog: DbWatchdog): PostgresPool {
  const inUse = new Set<GuardedClient>();
  watchdog.onDown((cause) => {
    for (const client of inUse) client.cut(cause);
  });
  return {
    async connect() {
      const client = new GuardedClient(await acquire(pool, watchdog), inUse);
      inUse.add(client);
      return client;
    },
    end: () => pool.end(),
  };
}

// A pooled session, unless the database is or goes down first.
async function acquire(pool: pg.Pool, watchdog: DbWatchdog): Promise<pg.PoolClient> {
  const downCause = watchdog.downCause();
  if (downCause !== null) throw serviceUnavailable(downCause);
  const acquiring = pool.connect();
  let unsubscribe: () => void = () => undefined;
  const wentDown = new Promise<never>((_resolve, reject) => {
    unsubscribe = watchdog.onDown((cause) => {
      reject(serviceUnavailable(cause));
    });
  });
  try {
    return await Promise.race([acquiring, wentDown]);
  } catch (error) {
    // A session that arrives after we stopped waiting goes straight back.
    void acquiring.then(
      (late) => {
        late.release();
      },
      () => undefined,
    );
    throw isDatabaseOutage(error) ? serviceUnavailable(error) : error;
  } finally {
    unsubscribe();
  }
}

class GuardedClient implements PostgresPoolClient {
  // Why this session may no longer be used, once it was cut or broke. A getter, since cut() may set it
  // while a statement is awaited, which narrowing cannot see.
  #broken: Error | null = null;
  #brokenCause = () => this.#broken;

  // pg-pool stops listening for a session's errors while it is checked out; an error between statements
  // (the server dying while a transaction waits on the app) would then crash the process. It marks the
  // session broken instead, and the next statement on it answers 503.
  readonly #onError = (error: Error) => {
    this.#broken ??= error;
  };

  constructor(
    private readonly client: pg.PoolClient,
    private readonly inUse: Set<GuardedClient>,
  ) {
    client.on("error", this.#onError);
  }

  query<R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters: readonly unknown[] = [],
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    // Kysely passes a cursor only when the dialect is given a cursor class, which ours is not.
    if (typeof sqlOrCursor !== "string") throw new Error("streaming queries are not configured");
    return this.#run<R>(sqlOrCursor, parameters);
  }

  release(): void {
    this.inUse.delete(this);
    this.client.removeListener("error", this.#onError);
    // An error makes pg-pool end the session instead of handing it to the next caller.
    this.client.release(this.#broken ?? undefined);
  }

  /** Makes the session unusable and closes its socket, so the statement on it (if any) fails now. */
  cut(cause: Error): void {
    if (this.#broken !== null) return;
    this.#broken = cause;
    this.client.connection.stream.destroy();
  }

  async #run<R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>> {
    if (this.#broken !== null) throw serviceUnavailable(this.#broken);
    try {
      const { command, rowCount, rows } = await this.client.query(sql, [...parameters]);
      // The same reading of pg's result as Kysely's own driver: the statements it sends are of these kinds.
      return {
        command: command as PostgresQueryResult<R>["command"],
        rowCount: rowCount ?? 0,
        rows: rows as R[],
      };
    } catch (error) {
      const cutCause = this.#brokenCause();
      if (cutCause !== null) throw serviceUnavailable(cutCause);
      if (!isDatabaseOutage(error)) throw error;
      this.cut(error instanceof Error ? error : new Error(String(error)));
      throw serviceUnavailable(error);
    }
  }
}
