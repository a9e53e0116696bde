import { gzipSync } from "node:zlib";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Clock } from "../../platform/clock.ts";

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

// Query strings are free-form; past this many keys the cache starts over rather than grow without bound
// (simpler than an LRU, and as fast or faster in the read bench: ADR 0004).
const MAX_ENTRIES = 5_000;

/**
 * A cache whose entries are fresh for `ttlMs` of `clock` time; 0 turns it off (every read loads). For one
 * more `ttlMs` after that, a read still gets the last value while a single background load refreshes it, so
 * under steady traffic no reader ever waits for the database; past that, readers wait for a fresh load.
 */
export function createReadCache<T>(ttlMs: number, clock: Clock): ReadCache<T> {
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
        else entries.set(key, { freshUntil: clock.now().getTime() + ttlMs, value, isRefreshing: false });
      },
      () => {
        stale.isRefreshing = false; // the next reader tries again
      },
    );
  }

  // Past its stale time, or stored "later" than now: the wall clock stepped back, so its age is unknown.
  function isExpired(entry: Entry, now: number): boolean {
    return now >= entry.freshUntil + ttlMs || now < entry.freshUntil - ttlMs;
  }

  return {
    read(key, load) {
      if (ttlMs === 0) return load();
      const now = clock.now().getTime();
      const entry = entries.get(key);
      if (entry === undefined || isExpired(entry, now)) return store(key, load, now);
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
  /** UTF-8 JSON, kept as bytes. */
  body: Buffer;
  /** The body gzipped, made by the first reader that accepts gzip (large bodies only). */
  gzipped?: Buffer;
  etag?: string;
}

// Below this, gzip saves too little to be worth a header; a feed page is about 15 KB, gzipped 2 KB.
const GZIP_FROM_BYTES = 1024;

/** Serialises `value` for the cache. */
export function serializeReply(value: unknown, etag?: string): SerializedReply {
  const body = Buffer.from(JSON.stringify(value));
  return etag === undefined ? { body } : { body, etag };
}

/**
 * Sends a serialised reply as it is (Fastify passes a Buffer through untouched), gzipped when it is large
 * and the client accepts gzip, as browsers do: a cached page is compressed once, not once per reader.
 */
export function sendSerialized(
  request: FastifyRequest,
  reply: FastifyReply,
  serialized: SerializedReply,
): FastifyReply {
  if (serialized.etag !== undefined) void reply.header("etag", serialized.etag);
  void reply.type("application/json; charset=utf-8");
  if (serialized.body.length < GZIP_FROM_BYTES) return reply.send(serialized.body);
  void reply.header("vary", "accept-encoding");
  if (!acceptsGzip(request.headers["accept-encoding"])) return reply.send(serialized.body);
  serialized.gzipped ??= gzipSync(serialized.body);
  return reply.header("content-encoding", "gzip").send(serialized.gzipped);
}

/** Whether an Accept-Encoding header names gzip with a weight above 0. */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(",").some((part) => {
    const [coding, ...parameters] = part.split(";").map((piece) => piece.trim().toLowerCase());
    if (coding !== "gzip") return false;
    const weight = parameters.find((parameter) => parameter.startsWith("q="));
    return weight === undefined || Number(weight.slice(2)) > 0;
  });
}
