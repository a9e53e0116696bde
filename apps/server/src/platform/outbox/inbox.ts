import { domainEventSchema, type DomainEvent } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import type { Subscription } from "../bus/bus.ts";
import type { Db, Trx } from "../db.ts";
import { DEFAULT_DOMAIN_STREAM, type DomainStream } from "./outbox.ts";

/*
 * The inbox makes at-least-once delivery take effect exactly once: a consumer's effect and the record
 * that it handled a message commit in the same transaction, so a redelivery finds the record and stops.
 */

/**
 * Runs `apply` in a transaction that also records (consumer, messageId); when that pair was recorded
 * before, runs nothing and returns false. Concurrent calls with one pair apply it once.
 */
export async function applyOnce(
  db: Db,
  consumer: string,
  messageId: string,
  apply: (trx: Trx) => Promise<void>,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    // A concurrent insert of the same pair waits here for the other transaction and then conflicts.
    const recorded = await trx
      .insertInto("inbox")
      .values({ consumer, message_id: messageId })
      .onConflict((conflict) => conflict.columns(["consumer", "message_id"]).doNothing())
      .returning("message_id")
      .executeTakeFirst();
    if (recorded === undefined) return false;
    await apply(trx);
    return true;
  });
}

export interface DomainConsumerOptions {
  /** Durable consumer name on the bus, and the inbox's consumer key. */
  name: string;
  /** Subject pattern within the stream, e.g. `domain.event.>`; defaults to every domain event. */
  filter?: string;
  stream?: DomainStream;
  ackWaitMs?: number;
  maxDeliver?: number;
}

export type DomainEventHandler = (event: DomainEvent, trx: Trx) => Promise<void>;

/**
 * Binds a durable consumer of domain events whose handler runs once per event id, inside the inbox
 * transaction; a handler that throws rolls back and the event is redelivered.
 */
export async function consumeDomainEvents(
  deps: Pick<Deps, "db" | "bus" | "log">,
  options: DomainConsumerOptions,
  handler: DomainEventHandler,
): Promise<Subscription> {
  const stream = options.stream ?? DEFAULT_DOMAIN_STREAM;
  await deps.bus.ensureStream(stream.name, [`${stream.subjectPrefix}.>`]);
  return deps.bus.consume(
    {
      stream: stream.name,
      name: options.name,
      filter: options.filter ?? `${stream.subjectPrefix}.>`,
      ackWaitMs: options.ackWaitMs,
      maxDeliver: options.maxDeliver,
    },
    async (msg) => {
      const parsed = domainEventSchema.safeParse(msg.data);
      if (!parsed.success) {
        // Redelivery cannot fix a malformed message, and retrying it would block the events behind it.
        deps.log.error(
          { consumer: options.name, messageId: msg.id, subject: msg.subject },
          "not a domain event; dropped",
        );
        return;
      }
      const event = parsed.data;
      await applyOnce(deps.db, options.name, event.id, (trx) => handler(event, trx));
    },
  );
}
