import type { z } from "zod";
import { AppError } from "./errors.ts";

// Opaque list cursors (API.md "Lists"): a small JSON value, base64url. Each list declares its own shape.

/** The cursor that carries `value`. */
export function writeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** The value of a cursor this list gave out; anything else is 400 validation.failed on `cursor`. */
export function readCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(parseJson(Buffer.from(cursor, "base64url").toString("utf8")));
  if (parsed.success) return parsed.data;
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
