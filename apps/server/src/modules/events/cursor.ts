import { z } from "zod";
import { readCursor, writeCursor } from "../../platform/cursor.ts";

/** Position after the last row of a page ordered by (startsAt, id); startsAt keeps microseconds. */
export interface TimeKey {
  startsAt: string;
  id: string;
}

/** Position in a search page ordered by rank (float4, as PostgreSQL prints it), then startsAt, then id. */
export interface RankKey extends TimeKey {
  rank: string;
}

const STARTS_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const startsAtSchema = z.string().regex(STARTS_AT).refine(isRealInstant);
const rankSchema = z
  .string()
  .regex(/^\d+(\.\d+)?(e[+-]?\d+)?$/)
  .refine(fitsFloat4);

// Date.parse takes 2026-02-30 (as March 2nd) and year 0000, which PostgreSQL refuses: a cursor's time must
// print back to itself, in years PostgreSQL and JavaScript both read the same way.
function isRealInstant(value: string): boolean {
  const time = Date.parse(value);
  if (Number.isNaN(time) || value < "0001") return false;
  return new Date(time).toISOString().slice(0, 23) === value.slice(0, 23);
}

// PostgreSQL's real (float4) refuses what overflows or underflows it, such as 1e99 or 1e-99.
function fitsFloat4(value: string): boolean {
  const rank = Number(value);
  return rank === 0 || (rank >= 1.2e-38 && rank <= 3.4e38);
}
const timeCursorSchema = z.tuple([z.literal("t"), startsAtSchema, z.uuid()]);
const rankCursorSchema = z.tuple([z.literal("r"), rankSchema, startsAtSchema, z.uuid()]);

/** The opaque cursor (base64url JSON) for a key. */
export function encodeCursor(key: TimeKey | RankKey): string {
  const parts = "rank" in key ? ["r", key.rank, key.startsAt, key.id] : ["t", key.startsAt, key.id];
  return writeCursor(parts);
}

/** Reads a cursor of the expected kind; anything else is 400 validation.failed on `cursor`. */
export function decodeCursor(cursor: string, kind: "time"): TimeKey;
export function decodeCursor(cursor: string, kind: "rank"): RankKey;
export function decodeCursor(cursor: string, kind: "time" | "rank"): TimeKey | RankKey {
  if (kind === "time") {
    const [, startsAt, id] = readCursor(cursor, timeCursorSchema);
    return { startsAt, id };
  }
  const [, rank, startsAt, id] = readCursor(cursor, rankCursorSchema);
  return { rank, startsAt, id };
}
