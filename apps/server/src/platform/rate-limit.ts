import type { FastifyInstance, FastifyRequest } from "fastify";
import { sql } from "kysely";
import type { Clock } from "./clock.ts";
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

const WINDOW_MS = 60_000;

/**
 * Limits every request to `max` per minute per key (0 = off), counted in fixed one-minute windows in this
 * process's memory. Install after the auth hook, so `keyOf` can see the verified user. A hand-written hook
 * rather than @fastify/rate-limit: that plugin's LRU store and headers cost a join storm an eighth of its
 * rate (ADR 0006); this one is one Map lookup. A window's keys are forgotten when it ends, so memory holds
 * only the callers of the current minute.
 */
export function installRequestRateLimit(
  app: FastifyInstance,
  { max, clock }: { max: number; clock: Clock },
  keyOf: (request: FastifyRequest) => string,
): void {
  if (max === 0) return;
  let windowEndsAt = 0;
  let hits = new Map<string, number>();
  app.addHook("onRequest", (request, _reply, done) => {
    if (UNLIMITED_PATHS.has(request.url.split("?", 1)[0] ?? "")) {
      done();
      return;
    }
    const now = clock.now().getTime();
    if (now >= windowEndsAt) {
      windowEndsAt = now + WINDOW_MS;
      hits = new Map();
    }
    const key = keyOf(request);
    const count = (hits.get(key) ?? 0) + 1;
    hits.set(key, count);
    done(count > max ? rateLimitedError(windowEndsAt - now) : undefined);
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
