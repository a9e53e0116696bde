import {
  DOMAIN_STREAM,
  DOMAIN_SUBJECT_PREFIX,
  domainEventTypeSchema,
  domainSubject,
} from "@turnout/contracts";
import { sql } from "kysely";
import type { Trx } from "../db.ts";
import { AppError } from "../errors.ts";

/** The NOTIFY channel that wakes the relay when a transaction with outbox rows commits. */
export const OUTBOX_CHANNEL = "outbox";

/** Where domain events go on the bus; tests use their own to stay independent on a shared NATS. */
export interface DomainStream {
  name: string;
  /** Subjects are `<prefix>.<type>`; the stream captures `<prefix>.>`. */
  subjectPrefix: string;
}

export const DEFAULT_DOMAIN_STREAM: DomainStream = {
  name: DOMAIN_STREAM,
  subjectPrefix: DOMAIN_SUBJECT_PREFIX,
};

export interface OutboxEntry {
  aggregateType: string;
  aggregateId: string;
  /** Versioned event name, e.g. `event.published.v1`. */
  type: string;
  /** The event's payload; must survive a JSON round trip. */
  data: unknown;
}

/**
 * Records a domain event in the caller's transaction; the relay publishes it once that commits, never
 * if it rolls back. Returns the outbox id (the event id). Per-aggregate order is id order, which is commit
 * order as long as writes to one aggregate are serialised (callers lock the aggregate's row first).
 */
export async function appendOutbox(trx: Trx, entry: OutboxEntry): Promise<number> {
  if (!domainEventTypeSchema.safeParse(entry.type).success) {
    throw new AppError("internal", `Not a versioned domain event type: ${JSON.stringify(entry.type)}.`);
  }
  const row = await trx
    .insertInto("outbox")
    .values({
      aggregate_type: entry.aggregateType,
      aggregate_id: entry.aggregateId,
      type: entry.type,
      subject: domainSubject(entry.type),
      // Serialised here: pg would turn a top-level array into a PostgreSQL array literal.
      payload: sql`${JSON.stringify(entry.data ?? null)}::jsonb`,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  // Queued by PostgreSQL until commit and folded into one per transaction.
  await sql`SELECT pg_notify(${OUTBOX_CHANNEL}, '')`.execute(trx);
  return row.id;
}

/** The subject a stored outbox subject is published on under `stream`'s prefix. */
export function subjectIn(stream: DomainStream, storedSubject: string): string {
  const head = `${DOMAIN_SUBJECT_PREFIX}.`;
  if (stream.subjectPrefix === DOMAIN_SUBJECT_PREFIX || !storedSubject.startsWith(head)) return storedSubject;
  return `${stream.subjectPrefix}.${storedSubject.slice(head.length)}`;
}
