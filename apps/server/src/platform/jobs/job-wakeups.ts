import pg from "pg";
import type { Logger } from "../logger.ts";

/*
 * Cross-process wake-ups for job loops. A sender notifies `turnout_jobs` with the queue's name in the
 * transaction that inserts the job, so PostgreSQL delivers it exactly when the job becomes visible (never for
 * a rolled-back one); every process that runs handlers listens and cuts its idle loops' wait short. Polling
 * stays the fallback: a notification lost while the listening session is down only delays a job to the
 * next poll.
 */

export const JOBS_CHANNEL = "turnout_jobs";
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

/** Runs SQL on the connection (or in the transaction) that inserted the job. */
export type SqlRunner = (text: string, values: unknown[]) => Promise<unknown>;

/** `pg_notify` for job `name`, at most once per queue name and transaction (`scope`, the transaction). */
export function createJobNotifier() {
  // A transaction that queues a thousand mails notifies once: the listeners fetch until the queue is empty.
  const notifiedIn = new WeakMap<object, Set<string>>();
  return async function notifyJobSent(run: SqlRunner, name: string, scope?: object): Promise<void> {
    if (scope !== undefined) {
      const names = notifiedIn.get(scope) ?? new Set<string>();
      if (names.has(name)) return;
      names.add(name);
      notifiedIn.set(scope, names);
    }
    await run("SELECT pg_notify($1, $2)", [JOBS_CHANNEL, name]);
  };
}

export interface JobListener {
  stop(): Promise<void>;
}

/**
 * A dedicated session that LISTENs on JOBS_CHANNEL and calls `onWake(queueName)` per notification;
 * after a lost session it reconnects with backoff and calls `onWakeAll` (jobs sent meanwhile are not missed).
 */
export function listenForJobs(options: {
  databaseUrl: string;
  log: Logger;
  onWake: (name: string) => void;
  onWakeAll: () => void;
}): JobListener {
  let client: pg.Client | undefined;
  let isStopped = false;
  let retryMs = RECONNECT_MIN_MS;
  let retryTimer: NodeJS.Timeout | undefined;

  function reconnectLater(): void {
    if (isStopped || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, retryMs);
    retryMs = Math.min(retryMs * 2, RECONNECT_MAX_MS);
  }

  async function connect(): Promise<void> {
    const next = new pg.Client({
      connectionString: options.databaseUrl,
      application_name: "turnout-jobs-listener",
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 5_000,
    });
    const session = { isLost: false };
    const lose = (error: Error) => {
      if (session.isLost) return;
      session.isLost = true;
      if (client === next) client = undefined;
      void next.end().catch(() => undefined);
      if (!isStopped) options.log.warn({ err: error }, "job wake-ups lost; polling until back");
      reconnectLater();
    };
    next.on("error", lose);
    next.on("end", () => {
      lose(new Error("job listener session ended"));
    });
    next.on("notification", (note) => {
      if (note.channel === JOBS_CHANNEL && note.payload !== undefined) options.onWake(note.payload);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${JOBS_CHANNEL}`);
    } catch (error) {
      lose(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (isStopped || session.isLost) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    retryMs = RECONNECT_MIN_MS;
    options.onWakeAll();
  }

  void connect();
  return {
    async stop() {
      isStopped = true;
      clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
