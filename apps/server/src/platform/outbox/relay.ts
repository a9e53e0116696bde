import { setTimeout as sleep } from "node:timers/promises";
import type { DomainEvent } from "@turnout/contracts";
import { sql } from "kysely";
import type { Deps } from "../../deps.ts";
import { backoffDelayMs, type BackoffPolicy } from "../backoff.ts";
import type { BusMessage } from "../bus/bus.ts";
import { DEFAULT_DOMAIN_STREAM, subjectIn, type DomainStream } from "./outbox.ts";
import { openListeningSession, type RelaySession } from "./relay-session.ts";

/*
 * The outbox relay: publishes committed outbox rows to the bus in id order, at least once, then marks them
 * sent. One relay is active per database (see relay-session.ts); the others stand by to take over.
 * A row is marked sent only after the bus accepted it, and a failing row is retried, never skipped, so a
 * crash anywhere re-publishes at most the rows of the batch in flight (consumers deduplicate by id).
 */

const DEFAULT_BATCH_SIZE = 500;
const PIPELINE_DEPTH = 64;
const RETRY_BACKOFF: BackoffPolicy = { firstMs: 100, maxMs: 3_000 };
// While rows keep coming, the backlog gauge is refreshed at most this often (a count is not free).
const BACKLOG_REFRESH_MS = 1_000;

export type RelayDeps = Pick<Deps, "db" | "databaseUrl" | "bus" | "config" | "log" | "metrics">;

export interface OutboxRelayOptions {
  stream?: DomainStream;
  batchSize?: number;
}

export interface OutboxRelay {
  /** Finishes the batch in flight, releases the relay lock and closes the relay's connection. */
  stop(): Promise<void>;
}

interface OutboxRow {
  id: number;
  aggregate_type: string;
  aggregate_id: string;
  type: string;
  subject: string;
  payload: unknown;
  created_at: Date;
}

/** Ensures the domain stream, then relays in the background (or stands by) until stop(). */
export async function startOutboxRelay(
  deps: RelayDeps,
  options: OutboxRelayOptions = {},
): Promise<OutboxRelay> {
  const { db, databaseUrl, bus, config, log, metrics } = deps;
  const stream = options.stream ?? DEFAULT_DOMAIN_STREAM;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  await bus.ensureStream(stream.name, [`${stream.subjectPrefix}.>`]);

  const stopping = new AbortController();
  const wake = createWake();
  // Standby relays only need a timer that a stop cuts short.
  const idle = createWake();
  let backlogCheckedAt = 0;

  const openSession = () => openListeningSession(databaseUrl, wake.fire);

  async function run(): Promise<void> {
    for (let failures = 0; !stopping.signal.aborted;) {
      let session: RelaySession | null = null;
      try {
        session = await openSession();
        if (await waitForLock(session)) {
          failures = 0;
          log.info({ stream: stream.name }, "outbox relay active");
          await refreshBacklog();
          await relayWhileHolding(session);
        }
      } catch (error) {
        failures++;
        log.error({ err: error, failures }, "outbox relay lost its session; reconnecting");
        await pause(backoffDelayMs(RETRY_BACKOFF, failures));
      } finally {
        await session?.close();
      }
    }
  }

  // Stands by until this session holds the relay lock (true) or the relay is stopping (false).
  async function waitForLock(session: RelaySession): Promise<boolean> {
    while (!stopping.signal.aborted) {
      if (await session.tryLock()) return true;
      const lost = await Promise.race([
        session.lost,
        idle.wait(config.outboxPollMs, stopping.signal).then(() => null),
      ]);
      if (lost) throw lost;
    }
    return false;
  }

  async function relayWhileHolding(session: RelaySession): Promise<void> {
    while (!stopping.signal.aborted) {
      await session.check();
      wake.clear();
      const read = await relayBatch(session);
      const isIdle = read < batchSize;
      if (isIdle || Date.now() - backlogCheckedAt >= BACKLOG_REFRESH_MS) await refreshBacklog();
      if (!isIdle) continue;
      const lost = await Promise.race([
        session.lost,
        wake.wait(config.outboxPollMs, stopping.signal).then(() => null),
      ]);
      if (lost) throw lost;
    }
  }

  // Publishes the oldest unsent rows and marks the accepted ones sent; returns how many were read.
  async function relayBatch(session: RelaySession): Promise<number> {
    const rows: OutboxRow[] = await db
      .selectFrom("outbox")
      .select(["id", "aggregate_type", "aggregate_id", "type", "subject", "payload", "created_at"])
      .where("sent_at", "is", null)
      .orderBy("id")
      .limit(batchSize)
      .execute();
    const accepted = await publishPipelined(session, rows);
    if (accepted.length > 0) {
      await db
        .updateTable("outbox")
        .set({ sent_at: sql`now()` })
        .where("id", "in", accepted)
        .execute();
    }
    return rows.length;
  }

  // Keeps up to PIPELINE_DEPTH publishes in flight, but a row is published only once the previous row of
  // its aggregate was accepted, so no row is ever overtaken by a later one of its aggregate, even when
  // a publish fails. Returns the ids the bus accepted; stops early on a stop or a lost lock.
  async function publishPipelined(session: RelaySession, rows: OutboxRow[]): Promise<number[]> {
    const accepted: number[] = [];
    const lastOfAggregate = new Map<string, Promise<boolean>>();
    const inFlight = new Set<Promise<boolean>>();
    const giveUp = { isSet: false };
    for (const row of rows) {
      while (inFlight.size >= PIPELINE_DEPTH) await Promise.race(inFlight);
      if (giveUp.isSet) break;
      const aggregate = JSON.stringify([row.aggregate_type, row.aggregate_id]);
      const previous = lastOfAggregate.get(aggregate) ?? Promise.resolve(true);
      const done = previous.then(async (isPreviousAccepted) => {
        if (!isPreviousAccepted || giveUp.isSet) return false;
        const isAccepted = await publishWithRetry(session, toMessage(row));
        if (isAccepted) accepted.push(row.id);
        else giveUp.isSet = true;
        return isAccepted;
      });
      lastOfAggregate.set(aggregate, done);
      inFlight.add(done);
      void done.then(() => inFlight.delete(done));
    }
    await Promise.all(inFlight);
    return accepted;
  }

  // True once the bus accepted the message; false when giving up because of a stop or a lost lock.
  async function publishWithRetry(session: RelaySession, msg: BusMessage): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) {
        await pause(backoffDelayMs(RETRY_BACKOFF, attempt - 1));
        if (isStopping()) return false;
      }
      if (session.isLost()) return false;
      try {
        await bus.publish(msg);
        return true;
      } catch (error) {
        log.warn({ err: error, outboxId: msg.id, attempt }, "outbox publish failed; retrying");
        if (isStopping()) return false;
      }
    }
  }

  async function refreshBacklog(): Promise<void> {
    const row = await db
      .selectFrom("outbox")
      .select((eb) => eb.fn.countAll<number>().as("count"))
      .where("sent_at", "is", null)
      .executeTakeFirstOrThrow();
    metrics.outboxBacklog.set(row.count);
    backlogCheckedAt = Date.now();
  }

  function toMessage(row: OutboxRow): BusMessage {
    const event: DomainEvent = {
      id: String(row.id),
      type: row.type,
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      occurredAt: row.created_at.toISOString(),
      data: row.payload,
    };
    return { subject: subjectIn(stream, row.subject), id: event.id, data: event };
  }

  function isStopping(): boolean {
    return stopping.signal.aborted;
  }

  function pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: stopping.signal }).catch(() => undefined);
  }

  const running = run();
  return {
    async stop() {
      stopping.abort();
      await running;
    },
  };
}

// A wake-up that arrives while the relay is busy is remembered, so the next wait returns at once.
function createWake() {
  let isPending = false;
  let resolveWait: (() => void) | null = null;
  return {
    fire: () => {
      isPending = true;
      resolveWait?.();
    },
    clear: () => {
      isPending = false;
    },
    /** Resolves on a wake-up, after `ms`, or on abort, whichever comes first. */
    wait(ms: number, signal: AbortSignal): Promise<void> {
      if (isPending || signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolveWait = null;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done);
        resolveWait = done;
      });
    },
  };
}
