import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";
import type pg from "pg";
import { serviceUnavailable } from "./errors.ts";
import { isDatabaseOutage } from "./db-unavailable.ts";

/*
 * A pg.Pool as Kysely sees it, with a client-side limit on every statement and outage errors turned into
 * 503 service.unavailable. node-postgres's own query_timeout gives up on a statement but keeps the session,
 * so the next statement on it (Kysely's ROLLBACK after a failed transaction statement, or the next request)
 * queues behind the stalled one and stalls too. Here a session whose statement timed out is cut at once,
 * every later statement on it fails without waiting, and the pool discards it on release.
 */

export interface DbTimeouts {
  /** Waiting for a pooled session: a free slot or a new connection (pg-pool's connectionTimeoutMillis). */
  connectMs: number;
  /** PostgreSQL's own statement_timeout: a slow statement is cancelled by the server. */
  statementMs: number;
  /** The client's limit on one statement: the server did not answer at all (stalled, unreachable). */
  queryMs: number;
}

/** Wraps `pool` for Kysely's PostgresDialect. */
export function createGuardedPool(pool: pg.Pool, queryMs: number): PostgresPool {
  return {
    async connect() {
      try {
        return new GuardedClient(await pool.connect(), queryMs);
      } catch (error) {
        throw isDatabaseOutage(error) ? serviceUnavailable(error) : error;
      }
    },
    end: () => pool.end(),
  };
}

class GuardedClient implements PostgresPoolClient {
  // Why this session may no longer be used, once it timed out or broke.
  #broken: Error | null = null;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly queryMs: number,
  ) {}

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
    // An error makes pg-pool end the session instead of handing it to the next caller.
    this.client.release(this.#broken ?? undefined);
  }

  async #run<R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>> {
    if (this.#broken !== null) throw serviceUnavailable(this.#broken);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(this.#cut(new Error(`no answer from PostgreSQL within ${this.queryMs} ms`)));
      }, this.queryMs);
    });
    const running = this.client.query(sql, [...parameters]);
    // The statement's own outcome may come after the timeout, when nobody awaits it any more.
    running.catch(() => undefined);
    try {
      const { command, rowCount, rows } = await Promise.race([running, timedOut]);
      // The same reading of pg's result as Kysely's own driver: the statements it sends are of these kinds.
      return {
        command: command as PostgresQueryResult<R>["command"],
        rowCount: rowCount ?? 0,
        rows: rows as R[],
      };
    } catch (error) {
      if (!isDatabaseOutage(error)) throw error;
      throw this.#cut(error);
    } finally {
      clearTimeout(timer);
    }
  }

  // Marks the session unusable and closes its socket, so nothing more waits on it; returns the 503.
  #cut(cause: unknown): Error {
    if (this.#broken === null) {
      this.#broken = cause instanceof Error ? cause : new Error(String(cause));
      // The socket's own error after destroy() has no other listener while the session is checked out.
      this.client.on("error", () => undefined);
      (
        this.client as unknown as { connection?: { stream?: { destroy(): void } } }
      ).connection?.stream?.destroy();
    }
    return serviceUnavailable(cause);
  }
}
