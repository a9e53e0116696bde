import pg from "pg";
import { OUTBOX_CHANNEL } from "./outbox.ts";

/*
 * The relay's own database session. Its session-level advisory lock elects the one active relay among
 * every process sharing the database; PostgreSQL drops the lock the moment the session ends, including
 * when the process holding it is killed, so a standby can take over.
 */

// Advisory locks are per database, so relays of different databases never contend.
const LOCK_KEY = "hashtext('turnout.outbox-relay')";

interface LockRow {
  locked: boolean;
}

export interface RelaySession {
  /** Takes the relay lock if free; true when this session now holds it. */
  tryLock(): Promise<boolean>;
  /** Throws when the session is gone (the lock with it); may take a round trip. */
  check(): Promise<void>;
  /** Whether the session is known to be gone, without asking the server. */
  isLost(): boolean;
  /** Resolves when the session is lost; never rejects. */
  readonly lost: Promise<Error>;
  /** Releases the lock if held and ends the session. */
  close(): Promise<void>;
}

/** A dedicated connection to `url` that listens on the outbox channel and calls `onNotify` per wake-up. */
export async function openListeningSession(url: string, onNotify: () => void): Promise<RelaySession> {
  const client = new pg.Client({
    connectionString: url,
    application_name: "turnout-outbox-relay",
    // So a silently dropped connection is noticed: with it went the lock, and another relay may be active.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // A server that accepts the socket but never answers (stopped, overloaded) must not hold the relay's
    // reconnect loop for ever; the loop backs off and tries again (ADR 0007).
    connectionTimeoutMillis: 5_000,
  });
  const loss = trackLoss();
  client.on("error", (error) => {
    loss.mark(error);
  });
  client.on("end", () => {
    loss.mark(new Error("relay session ended"));
  });
  client.on("notification", (note) => {
    if (note.channel === OUTBOX_CHANNEL) onNotify();
  });
  try {
    await client.connect();
    await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  let isLocked = false;
  return {
    async tryLock() {
      const result = await client.query<LockRow>(`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS locked`);
      isLocked = result.rows[0]?.locked === true;
      return isLocked;
    },
    check() {
      return loss.error === null ? Promise.resolve() : Promise.reject(loss.error);
    },
    isLost: () => loss.error !== null,
    lost: loss.promise,
    async close() {
      if (isLocked && loss.error === null) {
        await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`).catch(() => undefined);
      }
      await client.end().catch(() => undefined);
    },
  };
}

function trackLoss() {
  let settle: (error: Error) => void = () => undefined;
  const promise = new Promise<Error>((resolve) => {
    settle = resolve;
  });
  const state = {
    error: null as Error | null,
    promise,
    mark(error: Error) {
      if (state.error !== null) return;
      state.error = error;
      settle(error);
    },
  };
  return state;
}
