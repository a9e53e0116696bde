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
/** Callers tracked by name per window: about 10 MB of keys and counts (ADR 0010). */
export const DEFAULT_MAX_TRACKED_KEYS = 100_000;
// Callers past the bound share these counters by a hash of their key: 256 KiB, however big the flood.
const OVERFLOW_SLOTS = 1 << 16;

export interface WindowCounter {
  /** Counts one hit for `key` at `now` (ms) and returns the key's hits in the current window. */
  count(key: string, now: number): number;
  /** When the current window ends (ms). */
  windowEndsAt(): number;
  /** How many keys the window holds by name; never more than `maxKeys`. */
  trackedKeys(): number;
}

/**
 * Hits per key in fixed windows of `windowMs`, in bounded memory. The first `maxKeys` callers of a window
 * are counted exactly, one Map lookup each. Callers arriving once the Map is full (a flood of distinct
 * addresses) are counted in 65,536 shared slots chosen by a hash of the key: each is still limited, and a
 * slot reaches the limit early only when more than the limit's worth of such hits land on it in one window.
 */
export function createWindowCounter({
  windowMs,
  maxKeys,
}: {
  windowMs: number;
  maxKeys: number;
}): WindowCounter {
  let endsAt = 0;
  let hits = new Map<string, number>();
  const overflow = new Uint32Array(OVERFLOW_SLOTS);
  let isOverflowUsed = false;
  return {
    count(key, now) {
      if (now >= endsAt) {
        endsAt = now + windowMs;
        hits = new Map();
        if (isOverflowUsed) overflow.fill(0);
        isOverflowUsed = false;
      }
      const known = hits.get(key);
      if (known !== undefined || hits.size < maxKeys) {
        const count = (known ?? 0) + 1;
        hits.set(key, count);
        return count;
      }
      isOverflowUsed = true;
      const slot = hashKey(key) & (OVERFLOW_SLOTS - 1);
      overflow[slot] = (overflow[slot] ?? 0) + 1;
      return overflow[slot] ?? 0;
    },
    windowEndsAt: () => endsAt,
    trackedKeys: () => hits.size,
  };
}

// FNV-1a: cheap, and spreads addresses that differ in one digit over distant slots.
function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export interface RequestRateLimitOptions {
  max: number;
  clock: Clock;
  /** Callers tracked by name per window (DEFAULT_MAX_TRACKED_KEYS). */
  maxKeys?: number;
  /** Requests limited otherwise (the collector's, per source), which this limit leaves alone. */
  isExempt?: (request: FastifyRequest) => boolean;
}

/**
 * Limits every request to `max` per minute per key (0 = off), counted in fixed one-minute windows in this
 * process's memory. Install after the auth hook, so `keyOf` can see the verified user. A hand-written hook
 * rather than @fastify/rate-limit: that plugin's LRU store and headers cost a join storm an eighth of its
 * rate (ADR 0006); this one is one Map lookup. A window's keys are forgotten when it ends, and a window
 * holds at most `maxKeys` of them (createWindowCounter says what happens past that).
 */
export function installRequestRateLimit(
  app: FastifyInstance,
  { max, clock, maxKeys = DEFAULT_MAX_TRACKED_KEYS, isExempt }: RequestRateLimitOptions,
  keyOf: (request: FastifyRequest) => string,
): WindowCounter | undefined {
  if (max === 0) return undefined;
  const counter = createWindowCounter({ windowMs: WINDOW_MS, maxKeys });
  app.addHook("onRequest", (request, _reply, done) => {
    if (UNLIMITED_PATHS.has(request.url.split("?", 1)[0] ?? "") || isExempt?.(request) === true) {
      done();
      return;
    }
    const now = clock.now().getTime();
    const count = counter.count(keyOf(request), now);
    done(count > max ? rateLimitedError(counter.windowEndsAt() - now) : undefined);
  });
  return counter;
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
