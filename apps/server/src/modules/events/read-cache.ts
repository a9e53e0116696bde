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

/**
 * A cache whose entries are fresh for `ttlMs`; 0 turns it off (every read loads). For one more `ttlMs`
 * after that, a read still gets the last value while a single background load refreshes it, so under
 * steady traffic no reader ever waits for the database; past that, readers wait for a fresh load.
 */
export function createReadCache<T>(ttlMs: number): ReadCache<T> {
  interface Entry {
    freshUntil: number;
    value: Promise<T | null>;
    isRefreshing: boolean;
  }
  const entries = new Map<string, Entry>();

  function store(key: string, load: () => Promise<T | null>, now: number): Promise<T | null> {
    if (entries.size >= MAX_ENTRIES) entries.clear();
    const value = load();
    const entry: Entry = { freshUntil: now + ttlMs, value, isRefreshing: false };
    entries.set(key, entry);
    const drop = () => {
      if (entries.get(key) === entry) entries.delete(key);
    };
    value.then((loaded) => {
      if (loaded === null) drop();
    }, drop);
    return value;
  }

  function refresh(key: string, stale: Entry, load: () => Promise<T | null>): void {
    stale.isRefreshing = true;
    const value = load();
    value.then(
      (loaded) => {
        if (entries.get(key) !== stale) return; // forgotten or replaced meanwhile: keep out of the way
        if (loaded === null) entries.delete(key);
        else entries.set(key, { freshUntil: performance.now() + ttlMs, value, isRefreshing: false });
      },
      () => {
        stale.isRefreshing = false; // the next reader tries again
      },
    );
  }

  return {
    read(key, load) {
      if (ttlMs === 0) return load();
      const now = performance.now();
      const entry = entries.get(key);
      if (entry === undefined || now >= entry.freshUntil + ttlMs) return store(key, load, now);
      if (now >= entry.freshUntil && !entry.isRefreshing) refresh(key, entry, load);
      return entry.value;
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
