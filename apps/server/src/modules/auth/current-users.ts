import { randomUUID } from "node:crypto";
import type { UserRole } from "@turnout/contracts";
import { sql } from "kysely";
import pg from "pg";
import { BoundedMap } from "../../platform/bounded-map.ts";
import type { Db } from "../../platform/db.ts";
import type { Logger } from "../../platform/logger.ts";

/*
 * Each user's role and existence as the database says now, for the auth guard (ADR 0009). An access token
 * proves who signed in, not what they may do today: a demoted moderator or a deleted account must lose its
 * powers on the next request, in every process. Asking the database on every request would cost the join
 * storm a round trip per join, so each process keeps what it learned, fills gaps in batches (one query for
 * every unknown user of an event-loop turn), and forgets a user the moment PostgreSQL says they changed:
 * a trigger on `users` notifies `turnout_users` in the changing transaction, and every process LISTENs.
 * Nothing is kept while the listening connection is down, since changes could then go unnoticed.
 */

export const USERS_CHANNEL = "turnout_users";

/** A user's role now, or null when the account no longer exists. */
export type Standing = { role: UserRole } | null;

export interface CurrentUsers {
  /** What this process knows of the user without asking: their standing, or undefined when unknown. */
  cached(id: string): Standing | undefined;
  /** The user's standing now; unknown users of one event-loop turn are read with one query. */
  load(id: string): Promise<Standing>;
  /** Drops what is known of a user (this process just changed them; others learn it by notification). */
  forget(id: string): void;
  /**
   * Resolves once every change committed before the call is reflected here: it sends itself a notification,
   * and PostgreSQL delivers notifications in commit order.
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface CurrentUsersOptions {
  db: Db;
  /** For the listening session, which lives outside the pool. */
  databaseUrl: string;
  log: Logger;
  /** Upper bound of the cache; the oldest go first, half of the bound at a time. */
  maxEntries?: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;
const PING_EVERY_MS = 5_000;
const PING_TIMEOUT_MS = 2_000;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

interface Waiter {
  promise: Promise<Standing>;
  resolve(standing: Standing): void;
  reject(error: unknown): void;
}

/** Starts the listening session in the background and answers at once (uncached until it listens). */
export function createCurrentUsers(options: CurrentUsersOptions): CurrentUsers {
  const known = new BoundedMap<string, Standing>(options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  // A read is remembered only when one listening session covered it from start to end.
  const batches = createBatchLoader(
    options.db,
    () => listener.epoch(),
    (id, standing, startedIn) => {
      if (startedIn === listener.epoch() && listener.isListening()) known.set(id, standing);
    },
  );
  const listener = startListener(options, {
    onChange(id) {
      known.delete(id);
      batches.invalidate(id);
    },
    onEveryoneChanged() {
      known.clear();
      batches.invalidateAll();
    },
  });

  return {
    cached: (id) => known.get(id),
    load: (id) => batches.load(id),
    forget(id) {
      known.delete(id);
      batches.invalidate(id);
    },
    settle: () => listener.settle(),
    close: () => listener.close(),
  };
}

type OnLoaded = (id: string, standing: Standing, startedIn: number) => void;

// Group reads: every unknown id of one event-loop turn goes into one query; while it runs, new ids wait for
// the next one. An id invalidated while its query runs is answered but not remembered: the query may have
// read the row before the change committed.
function createBatchLoader(db: Db, epochNow: () => number, onLoaded: OnLoaded) {
  let queued = new Map<string, Waiter>();
  let inFlight = new Map<string, Waiter>();
  let isRunning = false;
  let isScheduled = false;

  function schedule(): void {
    if (isScheduled || isRunning || queued.size === 0) return;
    isScheduled = true;
    setImmediate(() => void run());
  }

  async function run(): Promise<void> {
    isScheduled = false;
    const batch = queued;
    queued = new Map();
    inFlight = new Map(batch);
    isRunning = true;
    const startedIn = epochNow();
    try {
      const found = await readRoles(db, [...batch.keys()]);
      for (const [id, waiter] of batch) {
        const role = found.get(id);
        const standing: Standing = role === undefined ? null : { role };
        if (inFlight.get(id) === waiter) onLoaded(id, standing, startedIn);
        waiter.resolve(standing);
      }
    } catch (error) {
      for (const waiter of batch.values()) waiter.reject(error);
    } finally {
      inFlight = new Map();
      isRunning = false;
      schedule();
    }
  }

  return {
    load(id: string): Promise<Standing> {
      const pending = queued.get(id) ?? inFlight.get(id);
      if (pending !== undefined) return pending.promise;
      const waiter = createWaiter();
      queued.set(id, waiter);
      schedule();
      return waiter.promise;
    },
    invalidate(id: string): void {
      inFlight.delete(id);
    },
    invalidateAll(): void {
      inFlight = new Map();
    },
  };
}

async function readRoles(db: Db, ids: string[]): Promise<Map<string, UserRole>> {
  const { rows } = await sql<{ id: string; role: UserRole }>`
    SELECT id, role FROM users WHERE id = ANY(${ids}::uuid[])
  `.execute(db);
  return new Map(rows.map((row) => [row.id, row.role]));
}

function createWaiter(): Waiter {
  let resolve: (standing: Standing) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<Standing>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

interface ListenerEvents {
  onChange(id: string): void;
  onEveryoneChanged(): void;
}

// The LISTEN session: (re)connects with backoff, checks itself every few seconds (a silently dropped
// connection would otherwise leave the cache trusted while notifications go nowhere), and forgets everything
// whenever it is lost and again once it listens anew. `epoch` changes on each of those, so a read that began
// under another session is not remembered.
function startListener(options: CurrentUsersOptions, events: ListenerEvents) {
  let client: pg.Client | null = null;
  let isListening = false;
  let epoch = 0;
  let isClosed = false;
  let connecting: Promise<void> | null = null;
  const syncs = new Map<string, () => void>();

  function lose(lost: pg.Client, error: unknown): void {
    if (client !== lost) return;
    client = null;
    isListening = false;
    epoch++;
    events.onEveryoneChanged();
    for (const resolve of syncs.values()) resolve();
    syncs.clear();
    void lost.end().catch(() => undefined);
    if (!isClosed) {
      options.log.warn({ err: error }, "user change notifications lost; not caching users until back");
      connecting = connectWithRetry();
    }
  }

  function onNotification(note: pg.Notification): void {
    const payload = note.payload ?? "";
    if (payload === "*") {
      events.onEveryoneChanged();
    } else if (payload.startsWith("sync:")) {
      syncs.get(payload.slice(5))?.();
      syncs.delete(payload.slice(5));
    } else {
      events.onChange(payload);
    }
  }

  async function connectOnce(): Promise<void> {
    const next = new pg.Client({
      connectionString: options.databaseUrl,
      application_name: "turnout-current-users",
      keepAlive: true,
    });
    next.on("notification", onNotification);
    next.on("error", (error) => {
      lose(next, error);
    });
    next.on("end", () => {
      lose(next, new Error("listening session ended"));
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${USERS_CHANNEL}`);
    } catch (error) {
      await next.end().catch(() => undefined);
      throw error;
    }
    if (isClosed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    epoch++;
    events.onEveryoneChanged();
    isListening = true;
  }

  async function connectWithRetry(): Promise<void> {
    for (let failures = 0; !isClosed; failures++) {
      try {
        await connectOnce();
        return;
      } catch (error) {
        if (failures === 0) options.log.warn({ err: error }, "cannot listen for user changes; retrying");
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures)).unref(),
        );
      }
    }
  }

  async function ping(): Promise<void> {
    const current = client;
    if (current === null) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error("listening session did not answer"));
      }, PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([current.query("SELECT 1"), timeout]);
    } catch (error) {
      lose(current, error);
    } finally {
      clearTimeout(timer);
    }
  }

  connecting = connectWithRetry();
  const pinger = setInterval(() => void ping(), PING_EVERY_MS).unref();

  return {
    epoch: () => epoch,
    isListening: () => isListening,
    async settle(): Promise<void> {
      // A session lost while the sync was under way: what it missed is forgotten; sync on the next one.
      for (;;) {
        await connecting;
        const current = client;
        if (current === null || !isListening) return;
        const token = randomUUID();
        const received = new Promise<void>((resolve) => syncs.set(token, resolve));
        try {
          await current.query("SELECT pg_notify($1, $2)", [USERS_CHANNEL, `sync:${token}`]);
          await received;
          return;
        } catch (error) {
          syncs.delete(token);
          lose(current, error);
        }
      }
    },
    async close(): Promise<void> {
      isClosed = true;
      clearInterval(pinger);
      const current = client;
      client = null;
      isListening = false;
      for (const resolve of syncs.values()) resolve();
      // A connection attempt still under way ends its own client when it sees isClosed; waiting for it
      // could mean waiting out a retry pause.
      await current?.end().catch(() => undefined);
    },
  };
}
