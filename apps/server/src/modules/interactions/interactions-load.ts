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
import type { StreamBatch } from "./interaction-stream.ts";
import { readInteraction, readStamp, readStampedInteraction } from "./item-check.ts";

/*
 * The processor's bulk load (ADR 0015): stream batches -> one COPY per UTC day straight into that day's
 * partition of the interactions table, and a mark of each hour it touched for the rollup job (what the statement
 * trigger on the parent table does for an INSERT there; a COPY into the parent cannot insert rows in bulk while
 * that trigger is there). When a row is there already (a redelivery after a crash, a client's retry), that COPY
 * fails on the primary key and is rolled back; the rows then go through a per-session staging table and one
 * INSERT ... ON CONFLICT DO NOTHING into the parent (whose trigger marks the hours of the rows it inserted), so
 * such an id is stored once. Runs inside the caller's transaction. Items that cannot be stored go to
 * interactions_dead instead of blocking the stream.
 */

// In the order of a COPY line: the item's own columns, then the stamps, the same for every item of a batch.
const COLUMNS = [
  "id",
  "type",
  "name",
  "timestamp",
  "anonymous_id",
  "user_id",
  "session_id",
  "event_id",
  "path",
  "referrer",
  "properties",
  "context",
  "source_id",
  "received_at",
  "ip",
  "device",
  "browser",
  "os",
  "country",
] as const;
const COLUMN_LIST = COLUMNS.map((column) => `"${column}"`).join(", ");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
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

/** A checked item and the stamps of its batch. */
interface Row {
  item: Interaction;
  stamp: InteractionStamp;
  /** The stamps' part of the COPY line, shared by the rows of one batch. */
  stampText: string;
}

/** The rows of one UTC day: one partition, one COPY. */
interface Day {
  name: string;
  lines: string[];
}

export interface LoadOptions {
  /** Items older than this many days are past retention: dead-lettered, never loaded into a dropped day. */
  retentionDays: number;
  now: Date;
  /** Days (YYYY-MM-DD) whose partition this process knows exists. */
  knownDays: Set<string>;
}

/** Loads the batches' items in the transaction `client` runs. */
export async function loadBatches(
  client: pg.PoolClient,
  batches: StreamBatch[],
  options: LoadOptions,
): Promise<LoadResult> {
  const dead: DeadItem[] = [];
  const rows: Row[] = [];
  const keys = new Set<string>();
  const days = new Map<number, Day>();
  const hours = new Set<number>();
  const oldest = options.now.getTime() - options.retentionDays * DAY_MS;
  for (const batch of batches) {
    let batchStamp: InteractionStamp | undefined;
    let batchStampText = "";
    if (batch.stamp !== undefined) {
      batchStamp = readStamp(batch.stamp);
      if (batchStamp === undefined) {
        const issue = interactionStampSchema.safeParse(batch.stamp).error?.issues[0];
        const error = `stamp ${issue?.path.map(String).join(".") ?? ""} ${issue?.message ?? "is invalid"}`;
        dead.push({ item: { v: 2, stamp: batch.stamp, interactions: batch.items }, error });
        continue;
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
      const time = Date.parse(item.timestamp);
      if (time < oldest) {
        dead.push({
          item: batchStamp === undefined ? raw : { ...item, ...stamp },
          error: "older than ANALYTICS_RETENTION_DAYS",
        });
        continue;
      }
      // A repeated item (a client's retry within one load) goes once; the COPY would fail on it.
      const key = `${stamp.sourceId}\u0000${item.id}\u0000${time}`;
      if (keys.has(key)) continue;
      keys.add(key);
      const stampText = batchStamp === undefined ? toStampText(stamp) : batchStampText;
      const row = { item, stamp, stampText };
      rows.push(row);
      const dayNumber = Math.floor(time / DAY_MS);
      let day = days.get(dayNumber);
      if (day === undefined) {
        day = { name: new Date(dayNumber * DAY_MS).toISOString().slice(0, 10), lines: [] };
        days.set(dayNumber, day);
      }
      day.lines.push(toLine(row));
      hours.add(Math.floor(time / HOUR_MS));
    }
  }
  await ensurePartitions(client, [...days.values()], options.knownDays);
  let loaded: number;
  await client.query("SAVEPOINT bulk_load");
  try {
    loaded = await copyAndInsert(client, rows.length, [...days.values()], [...hours]);
    await client.query("RELEASE SAVEPOINT bulk_load");
  } catch {
    // Something in the batch PostgreSQL refuses: load item by item, and dead-letter only what fails.
    await client.query("ROLLBACK TO SAVEPOINT bulk_load");
    loaded = await insertOneByOne(client, rows, dead);
  }
  if (dead.length > 0) {
    await client.query(
      "INSERT INTO interactions_dead (item, error) SELECT * FROM unnest($1::jsonb[], $2::text[])",
      [dead.map((entry) => JSON.stringify(entry.item ?? null)), dead.map((entry) => entry.error)],
    );
  }
  return { loaded, duplicates: rows.length - loaded, dead: dead.length };
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

async function copyAndInsert(
  client: pg.PoolClient,
  count: number,
  days: Day[],
  hours: number[],
): Promise<number> {
  if (count === 0) return 0;
  // Most loads hold no stored id: PostgreSQL's bulk COPY then writes them, without a staging table.
  await client.query("SAVEPOINT direct_copy");
  try {
    for (const day of days) {
      await copyInto(client, `interaction_partitions.${partitionOf(day.name)}`, day.lines);
    }
    await client.query("INSERT INTO interaction_rollup_pending (hour) SELECT unnest($1::timestamptz[])", [
      hours.map((hour) => new Date(hour * HOUR_MS).toISOString()),
    ]);
    await client.query("RELEASE SAVEPOINT direct_copy");
    return count;
  } catch (error) {
    await client.query("ROLLBACK TO SAVEPOINT direct_copy");
    if (!(error instanceof Error && "code" in error && error.code === UNIQUE_VIOLATION)) throw error;
  }
  await client.query(
    "CREATE TEMP TABLE IF NOT EXISTS interactions_staging (LIKE interactions) ON COMMIT DELETE ROWS",
  );
  await copyInto(
    client,
    "interactions_staging",
    days.flatMap((day) => day.lines),
  );
  const inserted = await client.query(
    `INSERT INTO interactions (${COLUMN_LIST}) SELECT ${COLUMN_LIST} FROM interactions_staging ON CONFLICT DO NOTHING`,
  );
  await client.query("TRUNCATE interactions_staging");
  return inserted.rowCount ?? 0;
}

/** The day partition's table name (ensure_interaction_partition's). */
function partitionOf(day: string): string {
  return `interactions_${day.replaceAll("-", "")}`;
}

async function copyInto(client: pg.PoolClient, table: string, lines: string[]): Promise<void> {
  // One chunk: a stream of one line per row cost a socket write per row (14 % of the processor's time).
  await pipeline(
    Readable.from([lines.join("")]),
    client.query(copyFrom(`COPY ${table} (${COLUMN_LIST}) FROM STDIN`)),
  );
}

async function insertOneByOne(client: pg.PoolClient, rows: Row[], dead: DeadItem[]): Promise<number> {
  let loaded = 0;
  const placeholders = COLUMNS.map((_column, index) => `$${index + 1}`).join(", ");
  for (const row of rows) {
    await client.query("SAVEPOINT one_item");
    try {
      const result = await client.query(
        `INSERT INTO interactions (${COLUMN_LIST}) VALUES (${placeholders}) ON CONFLICT DO NOTHING`,
        toValues(row),
      );
      loaded += result.rowCount ?? 0;
      await client.query("RELEASE SAVEPOINT one_item");
    } catch (error) {
      await client.query("ROLLBACK TO SAVEPOINT one_item");
      dead.push({
        item: { ...row.item, ...row.stamp },
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return loaded;
}

async function ensurePartitions(client: pg.PoolClient, days: Day[], knownDays: Set<string>): Promise<void> {
  for (const { name } of days) {
    if (knownDays.has(name)) continue;
    await client.query("SELECT ensure_interaction_partition($1::date)", [name]);
    knownDays.add(name);
  }
}

/** The row's values in COLUMNS' order; null for NULL. */
function toValues({ item, stamp }: Row): (string | null)[] {
  const page = item.context?.page;
  const eventId = item.properties?.eventId;
  return [
    item.id,
    item.type,
    item.name ?? null,
    item.timestamp,
    item.anonymousId,
    item.userId ?? null,
    item.sessionId ?? null,
    typeof eventId === "string" && UUID.test(eventId) ? eventId : null,
    page?.path ?? null,
    page?.referrer === undefined || page.referrer === "" ? null : page.referrer,
    item.properties === undefined ? null : JSON.stringify(item.properties),
    item.context === undefined ? null : JSON.stringify(item.context),
    stamp.sourceId,
    stamp.receivedAt,
    stamp.ip,
    stamp.device,
    stamp.browser,
    stamp.os,
    null,
  ];
}

/*
 * COPY's text format: columns split by a tab, rows by a newline, \N for NULL, and only a backslash, a tab, a
 * newline and a carriage return escaped. Unlike CSV it leaves the quotes of the JSON columns alone, and most
 * values need no escape at all.
 */
const NULL = "\\N";
const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

function text(value: string): string {
  return SPECIAL.test(value)
    ? value.replace(SPECIALS, (character) => ESCAPES[character] ?? character)
    : value;
}

function optionalText(value: string | null | undefined): string {
  return value === undefined || value === null ? NULL : text(value);
}

/** The stamps' columns of a line, ending it (country is not known yet: NULL). */
function toStampText(stamp: InteractionStamp): string {
  return `${text(stamp.sourceId)}\t${text(stamp.receivedAt)}\t${optionalText(stamp.ip)}\t${text(stamp.device)}\t${text(stamp.browser)}\t${text(stamp.os)}\t${NULL}\n`;
}

function toLine({ item, stampText }: Row): string {
  const page = item.context?.page;
  const eventId = item.properties?.eventId;
  const referrer = page?.referrer;
  // type and timestamp passed their checks (a word of three, an ISO date-time): nothing to escape.
  return `${text(item.id)}\t${item.type}\t${optionalText(item.name)}\t${item.timestamp}\t${text(item.anonymousId)}\t${optionalText(item.userId)}\t${optionalText(item.sessionId)}\t${typeof eventId === "string" && UUID.test(eventId) ? eventId : NULL}\t${optionalText(page?.path)}\t${referrer === undefined || referrer === "" ? NULL : text(referrer)}\t${item.properties === undefined ? NULL : text(JSON.stringify(item.properties))}\t${item.context === undefined ? NULL : text(JSON.stringify(item.context))}\t${stampText}`;
}
