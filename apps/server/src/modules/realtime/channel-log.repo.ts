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

/**
 * Appends one message to each of many channels in one statement (derived messages such as waitlist moves,
 * which come from no outbox row: outbox_id 0). `entries` name each channel once.
 */
export async function appendDerivedMessages(
  trx: Trx,
  entries: readonly { channel: string; data: unknown }[],
  message: { type: string; occurredAt: string },
  historyPerChannel: number,
): Promise<ChannelMessage[]> {
  if (entries.length === 0) return [];
  const sorted = [...entries].sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
  const { rows } = await sql<{ channel: string; seq: number }>`
    WITH input AS (
      SELECT * FROM unnest(${sorted.map((entry) => entry.channel)}::text[], ${sorted.map((entry) =>
        JSON.stringify(entry.data ?? null),
      )}::text[]) WITH ORDINALITY AS input (channel, data, position)
    ),
    bumped AS (
      INSERT INTO realtime_channels (channel, last_seq)
      SELECT channel, 1 FROM input ORDER BY position
      ON CONFLICT (channel) DO UPDATE SET last_seq = realtime_channels.last_seq + 1
      RETURNING channel, last_seq
    ),
    inserted AS (
      INSERT INTO realtime_messages (channel, seq, outbox_id, type, data, occurred_at)
      SELECT bumped.channel, bumped.last_seq, 0, ${message.type}, input.data::jsonb, ${message.occurredAt}::timestamptz
      FROM bumped JOIN input USING (channel)
    ),
    trimmed AS (
      DELETE FROM realtime_messages old USING bumped
      WHERE old.channel = bumped.channel AND old.seq <= bumped.last_seq - ${historyPerChannel}
    )
    SELECT channel, last_seq AS seq FROM bumped
  `.execute(trx);
  const dataOf = new Map(entries.map((entry) => [entry.channel, entry.data]));
  return rows.map((row) => ({
    channel: row.channel,
    seq: row.seq,
    type: message.type,
    data: dataOf.get(row.channel),
    occurredAt: message.occurredAt,
  }));
}

/**
 * Forgets channel messages that occurred before `before`, at most `batch` rows per statement, until none is
 * left; returns how many went. Positions are kept (realtime_channels): a `since` from before gets `reset`.
 */
export async function trimChannelLog(db: Executor, before: Date, batch = 10_000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const result = await sql`
      DELETE FROM realtime_messages WHERE (channel, seq) IN (
        SELECT channel, seq FROM realtime_messages WHERE occurred_at < ${before} LIMIT ${batch}
      )`.execute(db);
    const count = Number(result.numAffectedRows ?? 0);
    deleted += count;
    if (count < batch) return deleted;
  }
}

/**
 * Appends one derived snapshot (a dashboard tick) to `channel` unless the channel's latest message of that type
 * is younger than `minGapMs`: gateway nodes that watch the same channel take turns under an advisory lock, so
 * the channel gets about one snapshot per gap whatever the number of nodes. Returns what was appended, if any.
 */
export async function appendSnapshotIfDue(
  trx: Trx,
  entry: { channel: string; data: unknown },
  message: { type: string; occurredAt: string },
  options: { minGapMs: number; historyPerChannel: number },
): Promise<ChannelMessage | null> {
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`realtime:${entry.channel}`}))`.execute(trx);
  const last = await trx
    .selectFrom("realtime_messages")
    .select("occurred_at")
    .where("channel", "=", entry.channel)
    .where("type", "=", message.type)
    .orderBy("seq", "desc")
    .limit(1)
    .executeTakeFirst();
  if (last !== undefined && Date.parse(message.occurredAt) - last.occurred_at.getTime() < options.minGapMs)
    return null;
  const [appended] = await appendDerivedMessages(trx, [entry], message, options.historyPerChannel);
  return appended ?? null;
}
