import { sql } from "kysely";
import type { Executor, Trx } from "../../platform/db.ts";

/** One message as a channel carries it: its position on the channel and the domain message it came from. */
export interface ChannelMessage {
  channel: string;
  seq: number;
  type: string;
  data: unknown;
  /** When the outbox row was written (ISO 8601): the start of the bus-lag measurement. */
  occurredAt: string;
}

/**
 * Appends one domain message to each of `channels` with the next position on that channel, and forgets what
 * lies more than `historyPerChannel` positions behind. Runs in the sequencer's transaction.
 */
export async function appendChannelMessages(
  trx: Trx,
  channels: readonly string[],
  message: { outboxId: number; type: string; data: unknown; occurredAt: string },
  historyPerChannel: number,
): Promise<ChannelMessage[]> {
  const appended: ChannelMessage[] = [];
  for (const channel of [...channels].sort()) {
    const { last_seq: seq } = await trx
      .insertInto("realtime_channels")
      .values({ channel, last_seq: 1 })
      .onConflict((conflict) =>
        conflict.column("channel").doUpdateSet({ last_seq: sql<number>`realtime_channels.last_seq + 1` }),
      )
      .returning("last_seq")
      .executeTakeFirstOrThrow();
    await trx
      .insertInto("realtime_messages")
      .values({
        channel,
        seq,
        outbox_id: message.outboxId,
        type: message.type,
        data: JSON.stringify(message.data ?? null),
        occurred_at: new Date(message.occurredAt),
      })
      .execute();
    await trx
      .deleteFrom("realtime_messages")
      .where("channel", "=", channel)
      .where("seq", "<=", seq - historyPerChannel)
      .execute();
    appended.push({ channel, seq, type: message.type, data: message.data, occurredAt: message.occurredAt });
  }
  return appended;
}

/** The channel messages one outbox row became (to publish again after a redelivery). */
export async function findMessagesOfOutboxRow(db: Executor, outboxId: number): Promise<ChannelMessage[]> {
  const rows = await db
    .selectFrom("realtime_messages")
    .select(["channel", "seq", "type", "data", "occurred_at"])
    .where("outbox_id", "=", outboxId)
    .execute();
  return rows.map(toChannelMessage);
}

/** The channel's latest position; 0 when nothing was ever sent on it. */
export async function findChannelSeq(db: Executor, channel: string): Promise<number> {
  const row = await db
    .selectFrom("realtime_channels")
    .select("last_seq")
    .where("channel", "=", channel)
    .executeTakeFirst();
  return row?.last_seq ?? 0;
}

/** The channel's kept messages with `after` < seq <= `upTo`, in order. */
export async function listChannelMessages(
  db: Executor,
  channel: string,
  after: number,
  upTo: number,
): Promise<ChannelMessage[]> {
  const rows = await db
    .selectFrom("realtime_messages")
    .select(["channel", "seq", "type", "data", "occurred_at"])
    .where("channel", "=", channel)
    .where("seq", ">", after)
    .where("seq", "<=", upTo)
    .orderBy("seq")
    .execute();
  return rows.map(toChannelMessage);
}

function toChannelMessage(row: {
  channel: string;
  seq: number;
  type: string;
  data: unknown;
  occurred_at: Date;
}): ChannelMessage {
  return {
    channel: row.channel,
    seq: row.seq,
    type: row.type,
    data: row.data,
    occurredAt: row.occurred_at.toISOString(),
  };
}
