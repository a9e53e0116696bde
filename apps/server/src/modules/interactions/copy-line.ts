import type { Interaction, InteractionStamp } from "@turnout/contracts";

/*
 * An interaction as one line of COPY's text format into the interactions table (ADR 0015): the collector
 * writes them into the stream (format 3), the processor writes them for batches of the earlier formats, and
 * its row-by-row fallback reads them back. Columns are split by a tab, rows end with a newline, \N is NULL,
 * and only a backslash, a tab, a newline and a carriage return are escaped. Unlike CSV it leaves the quotes of
 * the JSON columns alone, and most values need no escape at all.
 */

/** The columns of a line, in order: the item's own, then the stamps (the same for every item of a request). */
export const COPY_COLUMNS = [
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
export const COPY_COLUMN_LIST = COPY_COLUMNS.map((column) => `"${column}"`).join(", ");
/** The index of the timestamp among COPY_COLUMNS. */
const TIMESTAMP_COLUMN = 3;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NULL = "\\N";
const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };
const ESCAPED = /\\(.)/g;
const UNESCAPES: Record<string, string> = { "\\": "\\", t: "\t", n: "\n", r: "\r" };

/** A text column's value, escaped for COPY's text format. */
export function text(value: string): string {
  return SPECIAL.test(value)
    ? value.replace(SPECIALS, (character) => ESCAPES[character] ?? character)
    : value;
}

/** The same, or \\N for a missing value. */
export function optionalText(value: string | null | undefined): string {
  return value === undefined || value === null ? NULL : text(value);
}

/** The stamps' columns of a line, ending it (country is not known yet: NULL). */
export function toStampText(stamp: InteractionStamp): string {
  return `${text(stamp.sourceId)}\t${text(stamp.receivedAt)}\t${optionalText(stamp.ip)}\t${text(stamp.device)}\t${text(stamp.browser)}\t${text(stamp.os)}\t${NULL}\n`;
}

/**
 * The line of a checked item (the contract's output: its type a word, its timestamp an ISO date-time, so
 * neither needs an escape), ending with its batch's `stampText` (toStampText).
 */
export function toCopyLine(item: Interaction, stampText: string): string {
  const page = item.context?.page;
  return `${text(item.id)}\t${item.type}\t${optionalText(item.name)}\t${item.timestamp}\t${text(item.anonymousId)}\t${optionalText(item.userId)}\t${optionalText(item.sessionId)}\t${eventIdText(item.properties?.eventId)}\t${optionalText(page?.path)}\t${referrerText(page?.referrer)}\t${jsonText(item.properties === undefined ? undefined : JSON.stringify(item.properties))}\t${jsonText(item.context === undefined ? undefined : JSON.stringify(item.context))}\t${stampText}`;
}

/** The event_id column: `properties.eventId` when it is a UUID, else NULL. */
export function eventIdText(eventId: unknown): string {
  return typeof eventId === "string" && UUID.test(eventId) ? eventId : NULL;
}

/** The referrer column: NULL for a missing or empty one. */
export function referrerText(referrer: string | undefined): string {
  return referrer === undefined || referrer === "" ? NULL : text(referrer);
}

/** The properties or context column: their JSON, escaped, or NULL. */
export function jsonText(json: string | undefined): string {
  return json === undefined ? NULL : text(json);
}

/**
 * A line's values in COPY_COLUMNS' order (null for NULL), for an INSERT of that one row; undefined when it has
 * not as many columns. Unescapes what toCopyLine escapes.
 */
export function parseCopyLine(line: string): (string | null)[] | undefined {
  const fields = (line.endsWith("\n") ? line.slice(0, -1) : line).split("\t");
  if (fields.length !== COPY_COLUMNS.length) return undefined;
  return fields.map((field) =>
    field === NULL
      ? null
      : field.includes("\\")
        ? field.replace(ESCAPED, (_escape, character: string) => UNESCAPES[character] ?? character)
        : field,
  );
}

/** The time (ms) in a line's timestamp column; NaN when there is none. */
export function timeOfCopyLine(line: string): number {
  return Date.parse(line.split("\t", TIMESTAMP_COLUMN + 1)[TIMESTAMP_COLUMN] ?? "");
}

/** The lines of a COPY text, each with its newline. */
export function splitCopyLines(copy: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let end = copy.indexOf("\n"); end !== -1; end = copy.indexOf("\n", start)) {
    lines.push(copy.slice(start, end + 1));
    start = end + 1;
  }
  if (start < copy.length) lines.push(copy.slice(start));
  return lines;
}

/** A line as an object of its columns, for the dead letters. */
export function copyLineItem(line: string): unknown {
  const values = parseCopyLine(line);
  if (values === undefined) return { line };
  return Object.fromEntries(COPY_COLUMNS.map((column, index) => [column, values[index]]));
}
