import type { Interaction, InteractionType } from "@turnout/contracts";
import type { BrowserParts } from "./browser.ts";
import { createUuidV7 } from "./ids.ts";

export interface TrackerOptions {
  /** The source's write key; without one the collector files interactions under Turnout's own source. */
  writeKey?: string;
  /** Where batches are POSTed. Default: "/api/collect" on the page's own origin. */
  endpoint?: string;
  /** Record a page view at start and after every history navigation (pushState, replaceState, back). */
  trackHistory?: boolean;
  /** Sees every interaction before it is queued; return it (changed or not) to keep it, null to drop it. */
  beforeSend?: (interaction: Interaction) => Interaction | null | undefined;
  /** A batch leaves once this many interactions wait. Default 20. */
  flushAt?: number;
  /** ...or once the oldest waiting one is this old. Default 5,000 ms. */
  flushIntervalMs?: number;
  /** The most interactions kept while the collector cannot be reached; the oldest go first. Default 1,000. */
  maxQueueSize?: number;
}

export type Properties = Record<string, unknown>;

export interface Tracker {
  page(properties?: Properties): void;
  track(name: string, properties?: Properties): void;
  /** Names the signed-in user on this and every later interaction; identify(null) forgets them. */
  identify(userId: string | null, traits?: Properties): void;
  /** Stops recording and forgets what waits to be sent, until optIn(); remembered across visits. */
  optOut(): void;
  optIn(): void;
  isOptedOut(): boolean;
  /** Sends what waits now; resolves when that attempt ended (never rejects). */
  flush(): Promise<void>;
}

export const SESSION_IDLE_MS = 30 * 60_000;
const DEFAULT_FLUSH_AT = 20;
const DEFAULT_FLUSH_INTERVAL_MS = 5_000;
const DEFAULT_MAX_QUEUE = 1_000;
const ITEMS_PER_REQUEST = 100;
// sendBeacon refuses bodies past 64 KiB in Chromium (the budget is shared by every beacon in flight).
const BEACON_MAX_BYTES = 60_000;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

const KEYS = {
  anonymousId: "turnout:anonymous-id",
  userId: "turnout:user-id",
  session: "turnout:session",
  optOut: "turnout:opt-out",
  queue: (writeKey: string | undefined) => `turnout:queue:${writeKey ?? "default"}`,
};

/**
 * A tracker on the given browser parts. Every public method swallows its own failures: analytics must never
 * break the page that hosts it.
 */
export function createTracker(options: TrackerOptions, browser: BrowserParts): Tracker {
  const endpoint = options.endpoint ?? "/api/collect";
  const flushAt = options.flushAt ?? DEFAULT_FLUSH_AT;
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  const maxQueueSize = options.maxQueueSize ?? DEFAULT_MAX_QUEUE;
  const store = createStore(browser);
  const queueKey = KEYS.queue(options.writeKey);

  let queue: Interaction[] = store.readJson<Interaction[]>(queueKey, isArray) ?? [];
  let isSending = false;
  let failures = 0;
  let retryAt = 0;
  let timer: unknown = null;
  let timerDueAt = 0;
  let lastPagePath: string | null = null;

  const anonymousId = store.read(KEYS.anonymousId) ?? store.write(KEYS.anonymousId, newId());
  let userId = store.read(KEYS.userId);

  function newId(): string {
    return createUuidV7(browser.now(), browser.randomBytes(10));
  }

  function isRecording(): boolean {
    return !browser.isDoNotTrack && store.read(KEYS.optOut) !== "1";
  }

  // A session ends after 30 idle minutes: the next interaction opens a new one.
  function touchSession(now: number): string {
    const current = store.readJson<{ id: string; seenAt: number }>(KEYS.session, isSession);
    const id = current !== null && now - current.seenAt <= SESSION_IDLE_MS ? current.id : newId();
    store.write(KEYS.session, JSON.stringify({ id, seenAt: now }));
    return id;
  }

  function record(type: InteractionType, name: string | undefined, properties: Properties | undefined) {
    if (!isRecording()) return;
    const now = browser.now();
    const page = browser.page();
    const screen = browser.screen();
    let interaction: Interaction | null | undefined = {
      id: newId(),
      type,
      ...(name === undefined ? {} : { name }),
      timestamp: new Date(now).toISOString(),
      anonymousId,
      ...(userId === null ? {} : { userId }),
      sessionId: touchSession(now),
      ...(properties === undefined ? {} : { properties }),
      context: {
        ...(page === null ? {} : { page }),
        ...(browser.userAgent === undefined ? {} : { userAgent: browser.userAgent }),
        ...(browser.locale === undefined ? {} : { locale: browser.locale }),
        ...(screen === undefined ? {} : { screen }),
      },
    };
    if (options.beforeSend) interaction = options.beforeSend(interaction);
    if (interaction === null || interaction === undefined) return;
    queue.push(interaction);
    if (queue.length > maxQueueSize) queue = queue.slice(queue.length - maxQueueSize);
    saveQueue();
    if (queue.length >= flushAt && browser.now() >= retryAt) void flush();
    else schedule(Math.max(flushIntervalMs, retryAt - browser.now()));
  }

  function saveQueue(): void {
    if (queue.length === 0) store.remove(queueKey);
    else store.write(queueKey, JSON.stringify(queue));
  }

  /** Arms the flush timer for `delayMs` unless it is already due sooner (or, when `isRetry`, always). */
  function schedule(delayMs: number, isRetry = false): void {
    const dueAt = browser.now() + delayMs;
    if (timer !== null && timerDueAt <= dueAt && !isRetry) return;
    if (timer !== null) browser.clearTimeout(timer);
    timerDueAt = dueAt;
    timer = browser.setTimeout(() => {
      timer = null;
      void flush();
    }, delayMs);
  }

  function forget(sent: readonly Interaction[]): void {
    const ids = new Set(sent.map((interaction) => interaction.id));
    queue = queue.filter((interaction) => !ids.has(interaction.id));
    saveQueue();
  }

  async function flush(): Promise<void> {
    if (isSending) return;
    isSending = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, ITEMS_PER_REQUEST);
        const outcome = await sendBatch(batch);
        if (outcome.kind === "retry") {
          failures += 1;
          const backoffMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
          const jitteredMs = backoffMs / 2 + (browser.randomBytes(1)[0] ?? 0) * (backoffMs / 2 / 255);
          const waitMs = Math.max(jitteredMs, (outcome.retryAfterSeconds ?? 0) * 1000);
          retryAt = browser.now() + waitMs;
          schedule(waitMs, true);
          return;
        }
        // Accepted, or refused for good (a bad write key, a malformed batch): either way it leaves the queue.
        failures = 0;
        retryAt = 0;
        forget(batch);
        if (queue.length < flushAt && queue.length > 0) {
          schedule(flushIntervalMs);
          return;
        }
      }
    } catch {
      // A broken storage or a throwing hook must not reach the page.
    } finally {
      isSending = false;
    }
  }

  async function sendBatch(
    batch: Interaction[],
  ): Promise<{ kind: "done" } | { kind: "retry"; retryAfterSeconds: number | null }> {
    try {
      const result = await browser.post(endpoint, bodyOf(batch));
      const isTransient = result.status === 408 || result.status === 429 || result.status >= 500;
      return isTransient ? { kind: "retry", retryAfterSeconds: result.retryAfterSeconds } : { kind: "done" };
    } catch {
      return { kind: "retry", retryAfterSeconds: null };
    }
  }

  function bodyOf(batch: readonly Interaction[]): string {
    return JSON.stringify(options.writeKey === undefined ? { batch } : { writeKey: options.writeKey, batch });
  }

  // The page is going away: hand everything that waits to sendBeacon, which outlives the page. What is also
  // in flight by fetch may arrive twice; the collector stores an id once.
  function sendOnLeave(): void {
    let chunk: Interaction[] = [];
    const sent: Interaction[] = [];
    const sendChunk = () => {
      if (chunk.length > 0 && browser.beacon(endpoint, bodyOf(chunk))) sent.push(...chunk);
      chunk = [];
    };
    for (const interaction of queue) {
      if (bodyOf([...chunk, interaction]).length > BEACON_MAX_BYTES) sendChunk();
      chunk.push(interaction);
    }
    sendChunk();
    forget(sent);
  }

  function recordPageIfMoved(): void {
    const path = browser.page()?.path ?? null;
    if (path === lastPagePath) return;
    lastPagePath = path;
    record("page", undefined, undefined);
  }

  browser.onLeave(guard(sendOnLeave));
  if (options.trackHistory === true) {
    browser.onNavigate(guard(recordPageIfMoved));
    guard(recordPageIfMoved)();
  }
  // Interactions left from an earlier visit (or an earlier page) leave soon.
  if (queue.length > 0) schedule(0);

  return {
    page: guard((properties?: Properties) => {
      lastPagePath = browser.page()?.path ?? null;
      record("page", undefined, properties);
    }),
    track: guard((name: string, properties?: Properties) => {
      if (typeof name !== "string" || name === "") return;
      record("track", name, properties);
    }),
    identify: guard((newUserId: string | null, traits?: Properties) => {
      userId = typeof newUserId === "string" && newUserId !== "" ? newUserId : null;
      if (userId === null) store.remove(KEYS.userId);
      else store.write(KEYS.userId, userId);
      if (userId !== null) record("identify", undefined, traits);
    }),
    optOut: guard(() => {
      store.write(KEYS.optOut, "1");
      queue = [];
      saveQueue();
    }),
    optIn: guard(() => {
      store.remove(KEYS.optOut);
    }),
    isOptedOut: () => {
      try {
        return !isRecording();
      } catch {
        return true;
      }
    },
    flush: () => flush().catch(() => undefined),
  };
}

/** Wraps a public entry point so nothing it throws reaches the host page. */
function guard<A extends unknown[]>(run: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      run(...args);
    } catch {
      // Swallowed on purpose: see createTracker.
    }
  };
}

interface Store {
  read(key: string): string | null;
  readJson<T>(key: string, isValid: (value: unknown) => value is T): T | null;
  /** Writes and returns `value`; keeps it in memory when storage is missing or full. */
  write(key: string, value: string): string;
  remove(key: string): void;
}

// localStorage when the browser lets us, memory otherwise (and for anything storage refuses, such as a full quota).
function createStore(browser: BrowserParts): Store {
  const memory = new Map<string, string>();
  const read = (key: string): string | null => {
    try {
      return browser.storage?.getItem(key) ?? memory.get(key) ?? null;
    } catch {
      return memory.get(key) ?? null;
    }
  };
  return {
    read,
    readJson<T>(key: string, isValid: (value: unknown) => value is T): T | null {
      const text = read(key);
      if (text === null) return null;
      try {
        const value: unknown = JSON.parse(text);
        return isValid(value) ? value : null;
      } catch {
        return null;
      }
    },
    write(key, value) {
      memory.set(key, value);
      try {
        browser.storage?.setItem(key, value);
      } catch {
        // Quota exceeded or storage disabled: memory keeps it for this page.
      }
      return value;
    },
    remove(key) {
      memory.delete(key);
      try {
        browser.storage?.removeItem(key);
      } catch {
        // As above.
      }
    },
  };
}

function isArray(value: unknown): value is Interaction[] {
  return Array.isArray(value);
}

function isSession(value: unknown): value is { id: string; seenAt: number } {
  return (
    typeof value === "object" &&
    value !== null &&
    "id" in value &&
    typeof value.id === "string" &&
    "seenAt" in value &&
    typeof value.seenAt === "number"
  );
}
