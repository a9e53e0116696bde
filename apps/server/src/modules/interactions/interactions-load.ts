import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  interactionSchema,
  interactionStampSchema,
  stampedInteractionSchema,
  type Interaction,
  type InteractionStamp,
} from "@turnout/contracts";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import {
  COPY_COLUMN_LIST,
  COPY_COLUMNS,
  copyLineItem,
  parseCopyLine,
  splitCopyLines,
  timeOfCopyLine,
  toCopyLine,
  toStampText,
} from "./copy-line.ts";
import type { CopyBatch, ItemsBatch, StreamBatch } from "./interaction-stream.ts";
import { readInteraction, readStamp, readStampedInteraction } from "./item-check.ts";

/*
 * The processor's bulk load (ADR 0015): stream batches -> one COPY per UTC day straight into that day's
 * partition of the interactions table, and a mark of each hour it touched for the rollup job (what the statement
 * trigger on the parent table does for an INSERT there; a COPY into the parent cannot insert rows in bulk while
 * that trigger is there). A batch of format 3 is already COPY text, written by the collector from the items it
 * checked: its bytes go to COPY as they are, and its header gives the hours. The items of the earlier formats
 * are checked here and written as the same lines. When a row is there already (a redelivery after a crash, a
 * client's retry), the COPY fails on the primary key and is rolled back; the rows then go through a per-session
 * staging table and one INSERT ... ON CONFLICT DO NOTHING into the parent (whose trigger marks the hours of the
 * rows it inserted), so such an id is stored once. Anything else PostgreSQL refuses sends the load row by row,
 * and only the rows that fail go to interactions_dead: poison never blocks the stream. Runs inside the caller's
 * transaction.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const UNIQUE_VIOLATION = "23505";

export interface LoadResult {
  loaded: number;
  duplicates: number;
  dead: number;
}

interface DeadItem {
  item: unknown;
  error: string;
}

/** The rows of one UTC day: one partition, one COPY. Parts are COPY text: whole lines. */
interface Day {
  name: string;
  parts: (string | Buffer)[];
}

export interface LoadOptions {
  /** Items older than this many days are past retention: dead-lettered, never loaded into a dropped day. */
  retentionDays: number;
  now: Date;
  /** Days (YYYY-MM-DD) whose partition this process knows exists. */
  knownDays: Set<string>;
}

/** Loads the batches' rows in the transaction `client` runs. */
export async function loadBatches(
  client: pg.PoolClient,
  batches: StreamBatch[],
  options: LoadOptions,
): Promise<LoadResult> {
  const dead: DeadItem[] = [];
  const days = new Map<number, Day>();
  const hours = new Set<number>();
  const oldest = options.now.getTime() - options.retentionDays * DAY_MS;
  const dayOf = (dayNumber: number): Day => {
    let day = days.get(dayNumber);
    if (day === undefined) {
      day = { name: new Date(dayNumber * DAY_MS).toISOString().slice(0, 10), parts: [] };
      days.set(dayNumber, day);
    }
    return day;
  };
  const addLine = (line: string, time: number, deadItem: () => unknown) => {
    if (Number.isNaN(time)) {
      dead.push({ item: deadItem(), error: "no timestamp in the COPY line" });
    } else if (time < oldest) {
      dead.push({ item: deadItem(), error: "older than ANALYTICS_RETENTION_DAYS" });
    } else {
      dayOf(Math.floor(time / DAY_MS)).parts.push(line);
      hours.add(Math.floor(time / HOUR_MS));
    }
  };
  for (const batch of batches) {
    if ("copy" in batch) addCopyBatch(batch, oldest, dayOf, hours, addLine);
    else addItemsBatch(batch, dead, addLine);
  }
  const loadDays = [...days.values()].map((day) => ({ name: day.name, copy: joinParts(day.parts) }));
  await ensurePartitions(client, loadDays, options.knownDays);
  let result: { loaded: number; rows: number };
  await client.query("SAVEPOINT bulk_load");
  try {
    result = await copyAndInsert(client, loadDays, [...hours]);
    await client.query("RELEASE SAVEPOINT bulk_load");
  } catch {
    // Something in the batch PostgreSQL refuses: load row by row, and dead-letter only what fails.
    await client.query("ROLLBACK TO SAVEPOINT bulk_load");
    result = await insertOneByOne(client, loadDays, dead);
  }
  if (dead.length > 0) {
    await client.query(
      "INSERT INTO interactions_dead (item, error) SELECT * FROM unnest($1::jsonb[], $2::text[])",
      [dead.map((entry) => JSON.stringify(entry.item ?? null)), dead.map((entry) => entry.error)],
    );
  }
  return { loaded: result.loaded, duplicates: result.rows - result.loaded, dead: dead.length };
}

/**
 * A batch of format 3: its bytes go whole to their day when its hours are of one day and within the
 * retention (the common case); otherwise line by line.
 */
function addCopyBatch(
  batch: CopyBatch,
  oldest: number,
  dayOf: (dayNumber: number) => Day,
  hours: Set<number>,
  addLine: (line: string, time: number, deadItem: () => unknown) => void,
): void {
  const dayNumber = Math.floor(((batch.hours[0] ?? 0) * HOUR_MS) / DAY_MS);
  const isOneRecentDay = batch.hours.every(
    (hour) => hour * HOUR_MS >= oldest && Math.floor((hour * HOUR_MS) / DAY_MS) === dayNumber,
  );
  if (isOneRecentDay) {
    dayOf(dayNumber).parts.push(batch.copy);
    for (const hour of batch.hours) hours.add(hour);
    return;
  }
  for (const line of splitCopyLines(batch.copy.toString())) {
    addLine(line, timeOfCopyLine(line), () => copyLineItem(line));
  }
}

/** A batch of format 1 or 2: each item checked and written as a COPY line. */
function addItemsBatch(
  batch: ItemsBatch,
  dead: DeadItem[],
  addLine: (line: string, time: number, deadItem: () => unknown) => void,
): void {
  let batchStamp: InteractionStamp | undefined;
  let batchStampText = "";
  if (batch.stamp !== undefined) {
    batchStamp = readStamp(batch.stamp);
    if (batchStamp === undefined) {
      const issue = interactionStampSchema.safeParse(batch.stamp).error?.issues[0];
      const error = `stamp ${issue?.path.map(String).join(".") ?? ""} ${issue?.message ?? "is invalid"}`;
      dead.push({ item: { v: 2, stamp: batch.stamp, interactions: batch.items }, error });
      return;
    }
    batchStampText = toStampText(batchStamp);
  }
  for (const raw of batch.items) {
    const checked = batchStamp === undefined ? readFormatOne(raw) : readItem(raw, batchStamp);
    if ("error" in checked) {
      dead.push({ item: checked.item, error: checked.error });
      continue;
    }
    const { item, stamp } = checked;
    addLine(
      toCopyLine(item, batchStamp === undefined ? toStampText(stamp) : batchStampText),
      Date.parse(item.timestamp),
      () => (batchStamp === undefined ? raw : { ...item, ...stamp }),
    );
  }
}

/** COPY text parts as one buffer: one socket write per COPY (a write per row was 14 % of the processor). */
function joinParts(parts: (string | Buffer)[]): Buffer {
  const buffers: Buffer[] = [];
  let text = "";
  for (const part of parts) {
    if (typeof part === "string") {
      text += part;
      continue;
    }
    if (text !== "") buffers.push(Buffer.from(text));
    text = "";
    buffers.push(part);
  }
  if (text !== "") buffers.push(Buffer.from(text));
  return buffers.length === 1 && buffers[0] !== undefined ? buffers[0] : Buffer.concat(buffers);
}

type Checked = { item: Interaction; stamp: InteractionStamp } | { item: unknown; error: string };

/** An item of a format-2 batch: the hand-written check passes the common one; zod decides otherwise. */
function readItem(raw: unknown, stamp: InteractionStamp): Checked {
  const item = readInteraction(raw);
  if (item !== undefined) return { item, stamp };
  const parsed = interactionSchema.safeParse(raw);
  if (parsed.success) return { item: parsed.data, stamp };
  const dead =
    typeof raw === "object" && raw !== null && !Array.isArray(raw)
      ? { ...raw, ...stamp }
      : { item: raw, ...stamp };
  return { item: dead, error: parsed.error.issues[0]?.message ?? "not an interaction" };
}

/** An item of a format-1 batch, stamped on its own. */
function readFormatOne(raw: unknown): Checked {
  const checked = readStampedInteraction(raw);
  const parsed = checked === undefined ? stampedInteractionSchema.safeParse(raw) : undefined;
  const stamped = checked ?? (parsed?.success === true ? parsed.data : undefined);
  if (stamped === undefined)
    return { item: raw, error: parsed?.error?.issues[0]?.message ?? "not an interaction" };
  const { sourceId, receivedAt, ip, device, browser, os, ...item } = stamped;
  return { item, stamp: { sourceId, receivedAt, ip, device, browser, os } };
}

/** The day's rows, as COPY text. */
interface LoadDay {
  name: string;
  copy: Buffer;
}

async function copyAndInsert(
  client: pg.PoolClient,
  days: LoadDay[],
  hours: number[],
): Promise<{ loaded: number; rows: number }> {
  if (days.length === 0) return { loaded: 0, rows: 0 };
  // Most loads hold no stored id: PostgreSQL's bulk COPY then writes them, without a staging table.
  await client.query("SAVEPOINT direct_copy");
  try {
    let loaded = 0;
    for (const day of days) {
      loaded += await copyInto(client, `interaction_partitions.${partitionOf(day.name)}`, day.copy);
    }
    await client.query("INSERT INTO interaction_rollup_pending (hour) SELECT unnest($1::timestamptz[])", [
      hours.map((hour) => new Date(hour * HOUR_MS).toISOString()),
    ]);
    await client.query("RELEASE SAVEPOINT direct_copy");
    return { loaded, rows: loaded };
  } catch (error) {
    await client.query("ROLLBACK TO SAVEPOINT direct_copy");
    if (!(error instanceof Error && "code" in error && error.code === UNIQUE_VIOLATION)) throw error;
  }
  await client.query(
    "CREATE TEMP TABLE IF NOT EXISTS interactions_staging (LIKE interactions) ON COMMIT DELETE ROWS",
  );
  const rows = await copyInto(client, "interactions_staging", Buffer.concat(days.map((day) => day.copy)));
  const inserted = await client.query(
    `INSERT INTO interactions (${COPY_COLUMN_LIST}) SELECT ${COPY_COLUMN_LIST} FROM interactions_staging ON CONFLICT DO NOTHING`,
  );
  await client.query("TRUNCATE interactions_staging");
  return { loaded: inserted.rowCount ?? 0, rows };
}

/** The day partition's table name (ensure_interaction_partition's). */
function partitionOf(day: string): string {
  return `interactions_${day.replaceAll("-", "")}`;
}

/** COPYs the text into `table`; resolves with the rows it wrote. */
async function copyInto(client: pg.PoolClient, table: string, copy: Buffer): Promise<number> {
  const stream = client.query(copyFrom(`COPY ${table} (${COPY_COLUMN_LIST}) FROM STDIN`));
  await pipeline(Readable.from([copy]), stream);
  return stream.rowCount;
}

async function insertOneByOne(
  client: pg.PoolClient,
  days: LoadDay[],
  dead: DeadItem[],
): Promise<{ loaded: number; rows: number }> {
  let loaded = 0;
  let rows = 0;
  const placeholders = COPY_COLUMNS.map((_column, index) => `$${index + 1}`).join(", ");
  for (const day of days) {
    for (const line of splitCopyLines(day.copy.toString())) {
      rows++;
      const values = parseCopyLine(line);
      if (values === undefined) {
        dead.push({ item: { line }, error: `not a COPY line of ${COPY_COLUMNS.length} columns` });
        continue;
      }
      await client.query("SAVEPOINT one_item");
      try {
        const result = await client.query(
          `INSERT INTO interactions (${COPY_COLUMN_LIST}) VALUES (${placeholders}) ON CONFLICT DO NOTHING`,
          values,
        );
        loaded += result.rowCount ?? 0;
        await client.query("RELEASE SAVEPOINT one_item");
      } catch (error) {
        await client.query("ROLLBACK TO SAVEPOINT one_item");
        dead.push({
          item: copyLineItem(line),
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }
  return { loaded, rows };
}

async function ensurePartitions(
  client: pg.PoolClient,
  days: LoadDay[],
  knownDays: Set<string>,
): Promise<void> {
  for (const { name } of days) {
    if (knownDays.has(name)) continue;
    await client.query("SELECT ensure_interaction_partition($1::date)", [name]);
    knownDays.add(name);
  }
}
