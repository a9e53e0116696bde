import { randomUUID } from "node:crypto";
import {
  AckPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { sql } from "kysely";
import type pg from "pg";
import type { Interaction, InteractionStamp } from "@turnout/contracts";
import type { Db } from "../../platform/db.ts";
import type { Logger } from "../../platform/logger.ts";
import { createBacklog } from "./backlog.ts";
import { toCopyLine, toStampText } from "./copy-line.ts";

/*
 * The durable stream between collector and processor (ADR 0015). Cluster mode: the JetStream stream
 * `interactions` (work-queue retention: a batch leaves it when the processor acknowledges it, after its
 * transaction committed). Embedded mode: the table interaction_batches, whose rows the processor deletes in the
 * same transaction that loads them. Either way a batch is durable before the collector answers 202.
 */

const CONSUMER_NAME = "interaction-processor";
// NATS refuses messages past max_payload (1 MiB by default); a request's batch is split below that.
const MESSAGE_MAX_BYTES = 512 * 1024;
const BACKLOG_SAMPLE_MS = 500;
// A batch taken by a processor that died is given to another after this; a live one extends it while it loads.
const ACK_WAIT_MS = 10_000;
const HOUR_MS = 3_600_000;

/** What one collector request appends: its accepted items as COPY lines (copy-line.ts), and each one's UTC hour. */
export interface AppendedBatch {
  lines: string[];
  /** Per line: its timestamp's hour, Math.floor(ms / 3,600,000). */
  hours: number[];
}

/** A request's checked items and stamps as what it appends (format 3). */
export function appendedBatchOf(stamp: InteractionStamp, items: Interaction[]): AppendedBatch {
  const stampText = toStampText(stamp);
  return {
    lines: items.map((item) => toCopyLine(item, stampText)),
    hours: items.map((item) => Math.floor(Date.parse(item.timestamp) / HOUR_MS)),
  };
}

/**
 * A batch as the processor takes it: the unit it loads. Format 3 (CopyBatch) carries the rows as COPY text
 * lines, written by the collector. Formats 2 (`{v: 2, stamp, interactions}`: the stamps once, `stamp` here) and
 * 1 (`{items}`, and a bare array in interaction_batches: the stamps in every item), written by earlier releases,
 * carry the items unchecked (ItemsBatch). Anything else is one poison item.
 */
export type StreamBatch = ItemsBatch | CopyBatch;

export interface ItemsBatch {
  stamp?: unknown;
  items: unknown[];
}

/** Format 3: COPY lines of the interactions table and their distinct UTC hours. */
export interface CopyBatch {
  /** Whole lines in COPY's text format (copy-line.ts), each ending with a newline. */
  copy: Buffer;
  hours: number[];
}

/** Loads a taken batch inside the transaction `client` runs; resolves once the rows are written. */
export type LoadBatches = (client: pg.PoolClient, batches: StreamBatch[]) => Promise<void>;

export interface InteractionStream {
  /** Resolves once the batch is durably appended; rejects when the stream cannot take it. */
  append(batch: AppendedBatch): Promise<void>;
  /**
   * More batches wait than the collector should add to (more than maxBacklog, or more than the processors
   * load in maxBacklogMs: backlog.ts): it answers 429 until the processor catches up.
   */
  isBackedUp(): boolean;
  /**
   * Takes up to `max` batches (waiting up to `waitMs` for the first), loads them with `load` in one
   * transaction on `pool`, and removes them from the stream only after that transaction committed.
   * Resolves with the number of batches handled (0 when none came).
   */
  processNext(pool: pg.Pool, load: LoadBatches, max: number, waitMs: number): Promise<number>;
  /** Batches waiting, as last sampled. */
  backlog(): number;
  close(): Promise<void>;
}

export interface StreamOptions {
  natsUrl: string | undefined;
  /** The JetStream stream's name; its subjects are `<name>.>`. */
  streamName: string;
  /** Batches waiting beyond which the collector answers 429. */
  maxBacklog: number;
  /** The time the waiting batches take to drain (at the processors' measured rate) beyond which it does too. */
  maxBacklogMs: number;
  /** Replicas of the JetStream stream when this call creates it (default 1). */
  replicas?: number;
  /** The serving database (the embedded stream appends through it, with its outage handling). */
  db: Db;
  log: Logger;
}

/** JetStream when NATS_URL is set, else the PostgreSQL table. */
export async function openInteractionStream(options: StreamOptions): Promise<InteractionStream> {
  return options.natsUrl === undefined
    ? openPostgresStream(options)
    : openJetStream({ ...options, natsUrl: options.natsUrl });
}

/** Splits lines (with their hours) into chunks under `maxBytes` of UTF-8 (a line alone may be bigger: it goes alone). */
export function chunkBySize(batch: AppendedBatch, maxBytes: number): AppendedBatch[] {
  const chunks: AppendedBatch[] = [];
  let current: AppendedBatch = { lines: [], hours: [] };
  let size = 0;
  batch.lines.forEach((line, index) => {
    const lineBytes = Buffer.byteLength(line);
    if (current.lines.length > 0 && size + lineBytes > maxBytes) {
      chunks.push(current);
      current = { lines: [], hours: [] };
      size = 0;
    }
    current.lines.push(line);
    current.hours.push(batch.hours[index] ?? 0);
    size += lineBytes;
  });
  if (current.lines.length > 0) chunks.push(current);
  return chunks;
}

// Never refused below this many waiting batches: more than the processor holds while it loads (3 x 64).
const BACKLOG_FLOOR_BATCHES = 256;

function startSampler(sample: () => Promise<{ waiting: number; appended: number }>, options: StreamOptions) {
  const backlog = createBacklog({
    maxBatches: options.maxBacklog,
    maxWaitMs: options.maxBacklogMs,
    floorBatches: BACKLOG_FLOOR_BATCHES,
  });
  let isStopped = false;
  const run = async () => {
    while (!isStopped) {
      try {
        backlog.observe({ ...(await sample()), at: performance.now() });
      } catch (error) {
        options.log.debug({ err: error }, "interaction backlog not sampled");
      }
      await new Promise((resolve) => setTimeout(resolve, BACKLOG_SAMPLE_MS).unref());
    }
  };
  const done = run();
  return {
    backlog,
    stop: async () => {
      isStopped = true;
      await done;
    },
  };
}

// ---- JetStream ----------------------------------------------------------------------------------------------

async function openJetStream(options: StreamOptions & { natsUrl: string }): Promise<InteractionStream> {
  const name = options.streamName;
  const connectOptions = {
    servers: options.natsUrl,
    name: "turnout-interactions",
    maxReconnectAttempts: -1,
    // No Error (and its stack) captured per publish and fetch: that was 1.4 % of the collector's time.
    noAsyncTraces: true,
    // The client writes what is pending at once past this many bytes (32 KiB by default, so every second
    // 22 KB message); the publishes of a turn (publishTogether) then go out in one write. Not in the
    // client's types; a client that ignores it writes every 32 KiB, as before.
    pendingLimit: PENDING_WRITE_BYTES,
  };
  const nc: NatsConnection = await connect(connectOptions);
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
    await ensureStream(jsm, name, options.replicas ?? 1);
    await ensureConsumer(jsm, name);
  } catch (error) {
    await nc.close();
    throw error;
  }
  const js: JetStreamClient = jetstream(nc);
  const sampler = startSampler(async () => {
    const { state } = await jsm.streams.info(name);
    return { waiting: state.messages, appended: state.last_seq };
  }, options);
  const consumer = await js.consumers.get(name, CONSUMER_NAME);
  const publish = publishTogether(js, `${name}.batch`);

  return {
    async append(batch) {
      const batchId = randomUUID();
      // A request's batch is almost always one message: written once, split only when too big.
      const copy = batch.lines.join("");
      if (copy.length * 3 <= MESSAGE_MAX_BYTES || Buffer.byteLength(copy) <= MESSAGE_MAX_BYTES) {
        await publish(encodeMessage(batch, copy), `${batchId}.0`);
        return;
      }
      // Each part carries its own id: JetStream drops a re-sent part (a publish retried after a lost ack).
      await Promise.all(
        chunkBySize(batch, MESSAGE_MAX_BYTES - HEADER_MAX_BYTES).map((chunk, index) =>
          publish(encodeMessage(chunk, chunk.lines.join("")), `${batchId}.${index}`),
        ),
      );
    },
    isBackedUp: () => sampler.backlog.isBackedUp(),
    backlog: () => sampler.backlog.waiting(),
    async processNext(pool, load, max, waitMs) {
      const messages = await consumer.fetch({ max_messages: max, expires: Math.max(waitMs, 1_000) });
      const taken: JsMsg[] = [];
      for await (const message of messages) taken.push(message);
      if (taken.length === 0) return 0;
      const batches = taken.map((message) => decodeMessage(message.data));
      const keepAlive = setInterval(() => {
        for (const message of taken) message.working();
      }, ACK_WAIT_MS / 3);
      const client = await pool.connect().catch((error: unknown) => {
        clearInterval(keepAlive);
        throw error;
      });
      client.on("error", ignoreSessionError);
      try {
        await client.query("BEGIN");
        await load(client, batches);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        for (const message of taken) message.nak(1_000);
        throw error;
      } finally {
        clearInterval(keepAlive);
        client.off("error", ignoreSessionError);
        client.release();
      }
      // Acknowledged only after the commit: a crash between the two (or a lost acknowledgement) redelivers,
      // and the primary key drops the repeat. Not awaited one by one (ackAck): that was a round trip each.
      for (const message of taken) message.ack();
      return taken.length;
    },
    async close() {
      await sampler.stop();
      await nc.drain();
    },
  };
}

// Beyond what one turn of the event loop publishes at the bench's rate (tens of 22 KB messages).
const PENDING_WRITE_BYTES = 1024 * 1024;

/**
 * Publishes (each resolving on its JetStream acknowledgement) queued during one turn of the event loop and
 * sent together at its end (setImmediate): the client then writes them to the socket at once, one write for
 * the requests of a turn instead of one or two per request. The write to NATS was a tenth of the collector's
 * time (ADR 0015); the wait is the rest of the turn, no timer.
 */
function publishTogether(
  js: JetStreamClient,
  subject: string,
): (data: string, msgID: string) => Promise<void> {
  let queued: { data: string; msgID: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  const sendQueued = () => {
    const sending = queued;
    queued = [];
    for (const { data, msgID, resolve, reject } of sending) {
      js.publish(subject, data, { msgID }).then(() => {
        resolve();
      }, reject);
    }
  };
  return (data, msgID) =>
    new Promise<void>((resolve, reject) => {
      if (queued.length === 0) setImmediate(sendQueued);
      queued.push({ data, msgID, resolve, reject });
    });
}

async function ensureStream(jsm: JetStreamManager, name: string, replicas: number): Promise<void> {
  const config = {
    name,
    num_replicas: replicas,
    subjects: [`${name}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(2 * 60_000),
  };
  try {
    await jsm.streams.info(name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    await jsm.streams.add(config).catch(async (addError: unknown) => {
      // Another process created it meanwhile.
      await jsm.streams.info(name).catch(() => {
        throw addError;
      });
    });
  }
}

async function ensureConsumer(jsm: JetStreamManager, name: string): Promise<void> {
  const config = {
    durable_name: CONSUMER_NAME,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ACK_WAIT_MS),
    max_ack_pending: 10_000,
  };
  try {
    await jsm.consumers.info(name, CONSUMER_NAME);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound))
      throw error;
    await jsm.consumers.add(name, config).catch(async (addError: unknown) => {
      await jsm.consumers.info(name, CONSUMER_NAME).catch(() => {
        throw addError;
      });
    });
  }
}

/** The header of a format-3 batch: a JetStream message's first line, or the interaction_batches row itself. */
interface CopyHeader {
  v: 3;
  /** The distinct hours (ms / 3,600,000) of the lines' timestamps: the processor's partitions and rollup marks. */
  hours: number[];
}

// A message's header line: a few dozen bytes, plus ten per hour a batch spans.
const HEADER_MAX_BYTES = 4 * 1024;

function headerOf(batch: AppendedBatch): CopyHeader {
  return { v: 3, hours: [...new Set(batch.hours)] };
}

/**
 * A JetStream message of format 3: the header's JSON on the first line, then the COPY lines as they are, so
 * the processor hands the bytes to COPY without parsing them.
 */
export function encodeMessage(batch: AppendedBatch, copy: string): string {
  return `${JSON.stringify(headerOf(batch))}\n${copy}`;
}

/** A JetStream message of any format; one that is none of them is loaded as one poison item. */
function decodeMessage(data: Uint8Array): StreamBatch {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // Formats 1 and 2 are JSON.stringify's output, which has no raw newline.
  const newline = bytes.indexOf(0x0a);
  if (newline !== -1) {
    const header = parseJson(bytes.toString("utf8", 0, newline));
    const batch = readCopyBatch(header, bytes.subarray(newline + 1));
    if (batch !== undefined) return batch;
  }
  const text = bytes.toString("utf8");
  const value = parseJson(text);
  return value === undefined ? { items: [text] } : readBatch(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A format-3 batch from its header and COPY text; undefined when either is not one. */
function readCopyBatch(header: unknown, copy: Buffer): CopyBatch | undefined {
  if (typeof header !== "object" || header === null || !("v" in header) || header.v !== 3) return undefined;
  const { hours } = header as Partial<CopyHeader>;
  if (
    !Array.isArray(hours) ||
    hours.length === 0 ||
    !hours.every((hour) => Number.isInteger(hour)) ||
    copy.length === 0 ||
    copy[copy.length - 1] !== 0x0a
  )
    return undefined;
  return { copy, hours };
}

/** An interaction_batches row's value (or a JetStream message's JSON) as a batch of any format. */
export function readBatch(value: unknown): StreamBatch {
  if (Array.isArray(value)) return { items: value as unknown[] };
  if (typeof value === "object" && value !== null) {
    if ("v" in value) {
      // A processor of an earlier format finds no `items` here and dead-letters the whole message.
      if (value.v === 3 && "copy" in value && typeof value.copy === "string") {
        const batch = readCopyBatch(value, Buffer.from(value.copy));
        if (batch !== undefined) return batch;
      }
      if (value.v === 2 && "interactions" in value && Array.isArray(value.interactions) && "stamp" in value) {
        return { stamp: value.stamp, items: value.interactions as unknown[] };
      }
    } else if ("items" in value && Array.isArray(value.items)) {
      return { items: value.items as unknown[] };
    }
  }
  return { items: [value] };
}

// ---- PostgreSQL (embedded mode) -------------------------------------------------------------------------------

function openPostgresStream(options: StreamOptions): InteractionStream {
  const { db } = options;
  const sampler = startSampler(async () => {
    const { rows } = await sql<{ waiting: number; appended: string }>`
      SELECT count(*)::int AS waiting,
             coalesce(pg_sequence_last_value(pg_get_serial_sequence('interaction_batches', 'seq')::regclass), 0) AS appended
      FROM interaction_batches`.execute(db);
    return { waiting: rows[0]?.waiting ?? 0, appended: Number(rows[0]?.appended ?? 0) };
  }, options);
  return {
    async append(batch) {
      // The same format 3, as one JSON object (the column is jsonb): the header with the COPY text in `copy`.
      await db
        .insertInto("interaction_batches")
        .values({ items: JSON.stringify({ ...headerOf(batch), copy: batch.lines.join("") }) })
        .execute();
    },
    isBackedUp: () => sampler.backlog.isBackedUp(),
    backlog: () => sampler.backlog.waiting(),
    async processNext(pool, load, max, waitMs) {
      const client = await pool.connect();
      client.on("error", ignoreSessionError);
      let isEmpty = false;
      try {
        await client.query("BEGIN");
        // SKIP LOCKED: two processors take different batches; each deletes what it loaded, in its transaction.
        const { rows } = await client.query<{ seq: string; items: unknown }>(
          "SELECT seq, items FROM interaction_batches ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
          [max],
        );
        if (rows.length === 0) {
          await client.query("COMMIT");
          isEmpty = true;
          return 0;
        }
        await load(
          client,
          rows.map((row) => readBatch(row.items)),
        );
        await client.query("DELETE FROM interaction_batches WHERE seq = ANY($1::bigint[])", [
          rows.map((row) => row.seq),
        ]);
        await client.query("COMMIT");
        return rows.length;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      } finally {
        client.off("error", ignoreSessionError);
        client.release();
        // Waits with the session back in the pool, not held idle in it.
        if (isEmpty) await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    },
    close: () => sampler.stop(),
  };
}

// A session lost while checked out (PostgreSQL restarted) also fails the query under way, which the caller
// handles; without a listener the client's 'error' event would end the process.
function ignoreSessionError(): void {
  // Handled through the failed query.
}
