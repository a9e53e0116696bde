import { z } from "zod";
import { AppError } from "../../platform/errors.ts";

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
const startsAtSchema = z
  .string()
  .regex(STARTS_AT)
  .refine((value) => !Number.isNaN(Date.parse(value)));
const rankSchema = z.string().regex(/^\d+(\.\d+)?(e[+-]?\d+)?$/);
const cursorSchema = z.union([
  z.tuple([z.literal("t"), startsAtSchema, z.uuid()]),
  z.tuple([z.literal("r"), rankSchema, startsAtSchema, z.uuid()]),
]);

/** The opaque cursor (base64url JSON) for a key. */
export function encodeCursor(key: TimeKey | RankKey): string {
  const parts = "rank" in key ? ["r", key.rank, key.startsAt, key.id] : ["t", key.startsAt, key.id];
  return Buffer.from(JSON.stringify(parts)).toString("base64url");
}

/** Reads a cursor of the expected kind; anything else is 400 validation.failed on `cursor`. */
export function decodeCursor(cursor: string, kind: "time"): TimeKey;
export function decodeCursor(cursor: string, kind: "rank"): RankKey;
export function decodeCursor(cursor: string, kind: "time" | "rank"): TimeKey | RankKey {
  const parsed = cursorSchema.safeParse(parseJson(Buffer.from(cursor, "base64url").toString("utf8")));
  if (parsed.success) {
    const value = parsed.data;
    if (value[0] === "t" && kind === "time") return { startsAt: value[1], id: value[2] };
    if (value[0] === "r" && kind === "rank") return { rank: value[1], startsAt: value[2], id: value[3] };
  }
  throw new AppError("validation.failed", "The cursor is not valid here.", [
    { path: "cursor", message: "is not a cursor this list gave out" },
  ]);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
