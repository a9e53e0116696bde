import { performance } from "node:perf_hooks";
import type { FastifyReply } from "fastify";

/**
 * A short-lived, per-process cache of public reads (feed pages and event pages), so a crowd reading the
 * same pages costs one query per page per `ttlMs` rather than one per request (ADR 0004). Callers asking
 * for a key that is being loaded share the load. Local writes forget what they change at once; writes
 * made by other processes show after at most `ttlMs`.
 */
export interface ReadCache<T> {
  /** The cached value of `key`, else what `load` returns; a failed load or a `null` is not kept. */
  read(key: string, load: () => Promise<T | null>): Promise<T | null>;
  forget(key: string): void;
  clear(): void;
}

// Query strings are free-form; past this many keys the cache starts over rather than grow without bound.
const MAX_ENTRIES = 5_000;

/** A cache whose entries live `ttlMs`; 0 turns it off (every read loads). */
export function createReadCache<T>(ttlMs: number): ReadCache<T> {
  const entries = new Map<string, { expiresAt: number; value: Promise<T | null> }>();

  return {
    read(key, load) {
      if (ttlMs === 0) return load();
      const now = performance.now();
      const entry = entries.get(key);
      if (entry !== undefined && entry.expiresAt > now) return entry.value;
      if (entries.size >= MAX_ENTRIES) entries.clear();
      const value = load();
      const fresh = { expiresAt: now + ttlMs, value };
      entries.set(key, fresh);
      const drop = () => {
        if (entries.get(key) === fresh) entries.delete(key);
      };
      value.then((loaded) => {
        if (loaded === null) drop();
      }, drop);
      return value;
    },
    forget(key) {
      entries.delete(key);
    },
    clear() {
      entries.clear();
    },
  };
}

/** A response body serialised once, sent many times. */
export interface SerializedReply {
  json: string;
  etag?: string;
}

/** Sends a serialised reply as it is (Fastify passes JSON text through untouched). */
export function sendSerialized(reply: FastifyReply, serialized: SerializedReply): FastifyReply {
  if (serialized.etag !== undefined) void reply.header("etag", serialized.etag);
  return reply.type("application/json; charset=utf-8").send(serialized.json);
}
