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
  const [id] = await appendOutboxMany(trx, [entry]);
  if (id === undefined) throw new AppError("internal", "The outbox insert returned no id.");
  return id;
}

/**
 * Records several domain events with one INSERT (a batch of joins writes hundreds); ids follow the order
 * of `entries`. Returns their outbox ids.
 */
export async function appendOutboxMany(trx: Trx, entries: readonly OutboxEntry[]): Promise<number[]> {
  if (entries.length === 0) return [];
  for (const entry of entries) {
    if (!domainEventTypeSchema.safeParse(entry.type).success) {
      throw new AppError("internal", `Not a versioned domain event type: ${JSON.stringify(entry.type)}.`);
    }
  }
  // One statement of unnest()ed arrays: its parameter count does not grow with the batch.
  const rows = await sql<{ id: number }>`
    INSERT INTO outbox (aggregate_type, aggregate_id, type, subject, payload)
    SELECT aggregate_type, aggregate_id, type, subject, payload::jsonb
    FROM unnest(
      ${entries.map((entry) => entry.aggregateType)}::text[],
      ${entries.map((entry) => entry.aggregateId)}::text[],
      ${entries.map((entry) => entry.type)}::text[],
      ${entries.map((entry) => domainSubject(entry.type))}::text[],
      ${entries.map((entry) => JSON.stringify(entry.data ?? null))}::text[]
    ) WITH ORDINALITY AS entry (aggregate_type, aggregate_id, type, subject, payload, position)
    ORDER BY position
    RETURNING id
  `.execute(trx);
  // Queued by PostgreSQL until commit and folded into one per transaction.
  await sql`SELECT pg_notify(${OUTBOX_CHANNEL}, '')`.execute(trx);
  return rows.rows.map((row) => row.id).sort((a, b) => a - b);
}

/** The subject a stored outbox subject is published on under `stream`'s prefix. */
export function subjectIn(stream: DomainStream, storedSubject: string): string {
  const head = `${DOMAIN_SUBJECT_PREFIX}.`;
  if (stream.subjectPrefix === DOMAIN_SUBJECT_PREFIX || !storedSubject.startsWith(head)) return storedSubject;
  return `${stream.subjectPrefix}.${storedSubject.slice(head.length)}`;
}
