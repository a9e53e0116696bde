import pg from "pg";

/*
 * Tells "down" from "slow". A statement that waits on a row lock behind forty others is slow, and must be
 * allowed to finish; a server that answers nothing at all (stopped, unreachable, dead) is down, and every
 * request waiting on it must end now. No limit on statements can tell the two apart, so a watchdog pings
 * the server on a session of its own: a ping unanswered for `downAfterMs` (or failing) means down, the
 * next answered ping means up again.
 */

export interface WatchdogTimings {
  /** How often the server is pinged. */
  pingIntervalMs: number;
  /** A ping unanswered this long (or failing) means the database is down. */
  downAfterMs: number;
}

export interface DbWatchdog {
  /** Why the database is down, or null while it answers. */
  downCause(): Error | null;
  /** Calls `listener` each time the database goes down; returns the unsubscribe. */
  onDown(listener: (cause: Error) => void): () => void;
  stop(): Promise<void>;
}

/** Starts pinging the server of `connectionString` until stop(). */
export function startDbWatchdog(connectionString: string, timings: WatchdogTimings): DbWatchdog {
  const listeners = new Set<(cause: Error) => void>();
  let cause: Error | null = null;
  let client: pg.Client | null = null;
  let hasStopBegun = false;
  // A function, not the variable: it changes while the loop awaits, which narrowing cannot see.
  const isStopped = () => hasStopBegun;

  const markDown = (error: Error) => {
    const wasUp = cause === null;
    cause = error;
    dropClient();
    if (wasUp) for (const listener of listeners) listener(error);
  };

  function dropClient(): void {
    if (client === null) return;
    const stale = client;
    client = null;
    stale.on("error", () => undefined);
    stale.connection.stream.destroy();
  }

  async function ping(): Promise<void> {
    if (client === null) {
      const fresh = new pg.Client({ connectionString, application_name: "turnout-db-watchdog" });
      fresh.on("error", () => undefined);
      client = fresh;
      await fresh.connect();
    }
    await client.query("SELECT 1");
  }

  async function run(): Promise<void> {
    while (!isStopped()) {
      const outcome = await settleWithin(ping(), timings.downAfterMs);
      if (isStopped()) break;
      if (outcome === null) cause = null;
      else markDown(outcome);
      await new Promise((resolve) => setTimeout(resolve, timings.pingIntervalMs).unref());
    }
  }
  const running = run();

  return {
    downCause: () => cause,
    onDown(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      hasStopBegun = true;
      await running;
      await client?.end().catch(() => undefined);
    },
  };
}

// Null when `work` succeeded within `ms`, else why not. The deadline is checked after pending I/O has run
// (setImmediate follows the poll phase), so a busy event loop that reads a ping's answer late is not
// mistaken for a silent server.
function settleWithin(work: Promise<unknown>, ms: number): Promise<Error | null> {
  return new Promise((resolve) => {
    let isSettled = false;
    const settle = (value: Error | null) => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      setImmediate(() => {
        settle(new Error(`PostgreSQL did not answer a ping within ${ms} ms`));
      });
    }, ms);
    work.then(
      () => {
        settle(null);
      },
      (error: unknown) => {
        settle(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
