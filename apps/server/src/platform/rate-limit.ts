import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { sql } from "kysely";
import type { Executor } from "./db.ts";
import { AppError } from "./errors.ts";

// Probes and scrapes must keep answering however busy a client is.
const UNLIMITED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/** Builds the one 429 answer: code rate_limited and Retry-After in whole seconds (at least 1). */
export function rateLimitedError(retryAfterMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError("rate_limited", `Too many requests; try again in ${seconds} s.`, undefined, {
    "retry-after": String(seconds),
  });
}

/**
 * Limits every route registered after this call to `max` requests per minute per key (0 = off),
 * kept in this process's memory. Call after the auth hook, so `keyOf` can see the verified user.
 */
export async function installRequestRateLimit(
  app: FastifyInstance,
  max: number,
  keyOf: (request: FastifyRequest) => string,
): Promise<void> {
  if (max === 0) return;
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow: 60_000,
    hook: "onRequest",
    keyGenerator: keyOf,
    allowList: (request) => UNLIMITED_PATHS.has(request.url.split("?", 1)[0] ?? ""),
    errorResponseBuilder: (_request, context) => rateLimitedError(context.ttl),
  });
}

export interface CounterWindow {
  scope: string;
  key: string;
  windowMs: number;
  now: Date;
}

/**
 * Counts one hit in a fixed window stored in PostgreSQL (so it holds across processes) and returns the
 * hits so far in the window and the ms until it ends. Counting before the guarded work, not after, keeps
 * concurrent attempts from all slipping under the limit.
 */
export async function countHit(
  db: Executor,
  at: CounterWindow,
): Promise<{ hits: number; retryAfterMs: number }> {
  const staleBefore = new Date(at.now.getTime() - at.windowMs);
  const { rows } = await sql<{ hits: number; window_started_at: Date }>`
    INSERT INTO rate_limit_counters AS c (scope, key, window_started_at, hits)
    VALUES (${at.scope}, ${at.key}, ${at.now}, 1)
    ON CONFLICT (scope, key) DO UPDATE SET
      window_started_at = CASE WHEN c.window_started_at <= ${staleBefore} THEN ${at.now} ELSE c.window_started_at END,
      hits = CASE WHEN c.window_started_at <= ${staleBefore} THEN 1 ELSE c.hits + 1 END
    RETURNING hits, window_started_at
  `.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error("rate limit upsert returned no row");
  return { hits: row.hits, retryAfterMs: row.window_started_at.getTime() + at.windowMs - at.now.getTime() };
}

/** Takes back one hit counted by countHit (the guarded attempt turned out not to count). */
export async function uncountHit(db: Executor, scope: string, key: string): Promise<void> {
  await db
    .updateTable("rate_limit_counters")
    .set((eb) => ({ hits: sql<number>`greatest(${eb.ref("hits")} - 1, 0)` }))
    .where("scope", "=", scope)
    .where("key", "=", key)
    .execute();
}

/** Forgets a counter entirely. */
export async function resetCounter(db: Executor, scope: string, key: string): Promise<void> {
  await db.deleteFrom("rate_limit_counters").where("scope", "=", scope).where("key", "=", key).execute();
}

/** Deletes counters whose window ended before `before`; housekeeping, safe to run at any time. */
export async function deleteStaleCounters(db: Executor, before: Date): Promise<number> {
  const result = await db
    .deleteFrom("rate_limit_counters")
    .where("window_started_at", "<", before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
