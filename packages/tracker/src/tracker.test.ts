import type { Interaction } from "@turnout/contracts";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { BrowserParts, KeyValueStore, SendResult } from "./browser.ts";
import { createTracker, SESSION_IDLE_MS, type TrackerOptions } from "./tracker.ts";

// The browser around the tracker, in memory: storage, a collector that answers what the test says, beacons
// and the page's listeners. Time is vitest's fake clock, so batching, backoff and session expiry run exactly.

interface FakePage {
  parts: BrowserParts;
  storage: Map<string, string>;
  posts: { url: string; body: { writeKey?: string; batch: Interaction[] } }[];
  beacons: { url: string; body: { batch: Interaction[] } }[];
  answers: (SendResult | "network-error")[];
  path: string;
  leave(): void;
  navigate(path: string): void;
}

function createFakePage(overrides: Partial<BrowserParts> = {}): FakePage {
  const storage = new Map<string, string>();
  const store: KeyValueStore = {
    getItem: (key) => storage.get(key) ?? null,
    setItem: (key, value) => {
      storage.set(key, value);
    },
    removeItem: (key) => {
      storage.delete(key);
    },
  };
  const leaveListeners: (() => void)[] = [];
  const navigateListeners: (() => void)[] = [];
  let seed = 1;
  const page: FakePage = {
    storage,
    posts: [],
    beacons: [],
    answers: [],
    path: "/",
    leave: () => {
      for (const listener of leaveListeners) listener();
    },
    navigate(path) {
      page.path = path;
      for (const listener of navigateListeners) listener();
    },
    parts: {
      now: () => Date.now(),
      setTimeout: (run, ms) => setTimeout(run, ms),
      clearTimeout: (handle) => {
        clearTimeout(handle as ReturnType<typeof setTimeout>);
      },
      randomBytes: (count) =>
        Uint8Array.from({ length: count }, () => (seed = (seed * 75 + 74) % 65537) % 256),
      post: (url, body) => {
        page.posts.push({ url, body: JSON.parse(body) as FakePage["posts"][number]["body"] });
        const answer = page.answers.shift() ?? { status: 202, retryAfterSeconds: null };
        return answer === "network-error"
          ? Promise.reject(new TypeError("fetch failed"))
          : Promise.resolve(answer);
      },
      beacon: (url, body) => {
        page.beacons.push({ url, body: JSON.parse(body) as FakePage["beacons"][number]["body"] });
        return true;
      },
      storage: store,
      page: () => ({ path: page.path, url: `https://site.test${page.path}`, title: "Title", referrer: "" }),
      userAgent: "Mozilla/5.0 Test",
      locale: "en-GB",
      screen: () => ({ width: 1280, height: 800 }),
      isDoNotTrack: false,
      onLeave: (listener) => {
        leaveListeners.push(listener);
      },
      onNavigate: (listener) => {
        navigateListeners.push(listener);
      },
      ...overrides,
    },
  };
  return page;
}

const sentIds = (page: FakePage) => page.posts.flatMap((post) => post.body.batch.map((item) => item.id));

function start(page: FakePage, options: TrackerOptions = {}) {
  return createTracker(
    { writeKey: "wk_test", endpoint: "https://collector.test/api/collect", ...options },
    page.parts,
  );
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-12-06T10:00:00Z") });
});
afterEach(() => {
  vi.useRealTimers();
});

it("sends a batch at the 20th interaction, with the write key, ids and context", async () => {
  const page = createFakePage();
  const tracker = start(page);
  for (let index = 0; index < 19; index++) tracker.track("clicked", { index });
  expect(page.posts).toHaveLength(0);
  tracker.track("clicked", { index: 19 });
  await vi.advanceTimersByTimeAsync(0);
  expect(page.posts).toHaveLength(1);
  const body = page.posts[0]?.body;
  expect(body?.writeKey).toBe("wk_test");
  expect(body?.batch).toHaveLength(20);
  expect(new Set(sentIds(page)).size).toBe(20);
  expect(body?.batch[0]).toMatchObject({
    type: "track",
    name: "clicked",
    properties: { index: 0 },
    timestamp: "2026-12-06T10:00:00.000Z",
    context: { page: { path: "/" }, userAgent: "Mozilla/5.0 Test", locale: "en-GB", screen: { width: 1280 } },
  });
  expect(body?.batch[0]?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(page.storage.has("turnout:queue:wk_test")).toBe(false);
});

it("sends fewer than 20 once the first has waited 5 s", async () => {
  const page = createFakePage();
  const tracker = start(page);
  tracker.page();
  await vi.advanceTimersByTimeAsync(2_000);
  tracker.track("clicked");
  await vi.advanceTimersByTimeAsync(2_999);
  expect(page.posts).toHaveLength(0);
  await vi.advanceTimersByTimeAsync(1);
  expect(page.posts).toHaveLength(1);
  expect(page.posts[0]?.body.batch.map((item) => item.type)).toEqual(["page", "track"]);
});

it("keeps every interaction through 503s and network errors, backing off, then sends each once", async () => {
  const page = createFakePage();
  const tracker = start(page);
  page.answers.push({ status: 503, retryAfterSeconds: null }, "network-error", {
    status: 503,
    retryAfterSeconds: null,
  });
  for (let index = 0; index < 20; index++) tracker.track("clicked", { index });
  await vi.advanceTimersByTimeAsync(0);
  expect(page.posts).toHaveLength(1);
  // Backoff doubles from 1 s (with jitter between half and all of it): the 2nd try within 1 s, the 3rd within
  // 2 s more, the 4th within 4 s more.
  await vi.advanceTimersByTimeAsync(1_000);
  expect(page.posts).toHaveLength(2);
  tracker.track("during-outage");
  await vi.advanceTimersByTimeAsync(2_000);
  expect(page.posts).toHaveLength(3);
  expect(JSON.parse(page.storage.get("turnout:queue:wk_test") ?? "[]")).toHaveLength(21);
  await vi.advanceTimersByTimeAsync(4_000);
  expect(page.posts).toHaveLength(4);
  const delivered = page.posts[3]?.body.batch ?? [];
  expect(delivered).toHaveLength(21);
  const firstTry = page.posts[0]?.body.batch.map((item) => item.id) ?? [];
  expect(delivered.map((item) => item.id).slice(0, 20)).toEqual(firstTry);
  expect(delivered[20]?.name).toBe("during-outage");
  expect(page.storage.has("turnout:queue:wk_test")).toBe(false);
  await vi.advanceTimersByTimeAsync(60_000);
  expect(page.posts).toHaveLength(4);
});

it("waits at least what Retry-After asks after a 429", async () => {
  const page = createFakePage();
  const tracker = start(page);
  page.answers.push({ status: 429, retryAfterSeconds: 30 });
  tracker.track("clicked");
  await tracker.flush();
  expect(page.posts).toHaveLength(1);
  await vi.advanceTimersByTimeAsync(29_999);
  expect(page.posts).toHaveLength(1);
  await vi.advanceTimersByTimeAsync(1);
  expect(page.posts).toHaveLength(2);
});

it("drops a batch the collector refuses for good (400, 401) instead of retrying it forever", async () => {
  const page = createFakePage();
  const tracker = start(page);
  page.answers.push({ status: 401, retryAfterSeconds: null });
  tracker.track("clicked");
  await tracker.flush();
  await vi.advanceTimersByTimeAsync(120_000);
  expect(page.posts).toHaveLength(1);
  expect(page.storage.has("turnout:queue:wk_test")).toBe(false);
});

it("bounds the queue while the collector is away, keeping the newest", () => {
  const page = createFakePage();
  const tracker = start(page, { maxQueueSize: 50 });
  page.answers.push(...Array.from({ length: 100 }, () => ({ status: 503, retryAfterSeconds: null })));
  for (let index = 0; index < 80; index++) tracker.track("clicked", { index });
  const kept = JSON.parse(page.storage.get("turnout:queue:wk_test") ?? "[]") as Interaction[];
  expect(kept).toHaveLength(50);
  expect(kept[0]?.properties).toEqual({ index: 30 });
  expect(kept[49]?.properties).toEqual({ index: 79 });
});

it("sends what an earlier page left in storage", async () => {
  const page = createFakePage();
  page.answers.push(...Array.from({ length: 5 }, () => "network-error" as const));
  start(page).track("left-behind");
  await start(page).flush();
  const left = JSON.parse(page.storage.get("turnout:queue:wk_test") ?? "[]") as Interaction[];
  expect(left.map((item) => item.name)).toEqual(["left-behind"]);

  const nextPage = createFakePage();
  for (const [key, value] of page.storage) nextPage.storage.set(key, value);
  start(nextPage);
  await vi.advanceTimersByTimeAsync(0);
  expect(nextPage.posts[0]?.body.batch.map((item) => item.id)).toEqual([left[0]?.id]);
});

it("hands what waits to sendBeacon on pagehide, in chunks under 64 KiB", () => {
  const page = createFakePage();
  const tracker = start(page);
  const padding = "x".repeat(7_000);
  for (let index = 0; index < 19; index++) tracker.track("clicked", { index, padding });
  page.leave();
  expect(page.posts).toHaveLength(0);
  expect(page.beacons.length).toBeGreaterThanOrEqual(3);
  for (const beacon of page.beacons) {
    expect(JSON.stringify(beacon.body).length).toBeLessThanOrEqual(60_000);
    expect(beacon.url).toBe("https://collector.test/api/collect");
  }
  expect(page.beacons.flatMap((beacon) => beacon.body.batch)).toHaveLength(19);
  expect(page.storage.has("turnout:queue:wk_test")).toBe(false);
});

it("keeps what sendBeacon refused for the next page", () => {
  const page = createFakePage({ beacon: () => false });
  const tracker = start(page);
  tracker.track("clicked");
  page.leave();
  expect(JSON.parse(page.storage.get("turnout:queue:wk_test") ?? "[]")).toHaveLength(1);
});

it("keeps the session id while active and rolls it after 30 idle minutes", async () => {
  const page = createFakePage();
  const tracker = start(page);
  tracker.page();
  await vi.advanceTimersByTimeAsync(SESSION_IDLE_MS - 1_000);
  tracker.track("still-here");
  await vi.advanceTimersByTimeAsync(SESSION_IDLE_MS);
  tracker.track("same-session");
  await vi.advanceTimersByTimeAsync(SESSION_IDLE_MS + 1);
  tracker.track("new-session");
  await tracker.flush();
  const sessions = page.posts.flatMap((post) => post.body.batch.map((item) => item.sessionId));
  expect(sessions).toHaveLength(4);
  expect(new Set(sessions.slice(0, 3)).size).toBe(1);
  expect(sessions[3]).not.toBe(sessions[0]);
});

it("keeps one anonymous id across pages and adds the user id after identify", async () => {
  const page = createFakePage();
  start(page).page();
  const second = start(page);
  second.identify("user-1", { plan: "pro" });
  second.track("joined");
  second.identify(null);
  second.track("after-sign-out");
  await second.flush();
  await vi.advanceTimersByTimeAsync(5_000);
  const items = page.posts.flatMap((post) => post.body.batch);
  expect(new Set(items.map((item) => item.anonymousId)).size).toBe(1);
  const byName = (name: string) => items.find((item) => item.name === name);
  expect(items.find((item) => item.type === "identify")).toMatchObject({
    userId: "user-1",
    properties: { plan: "pro" },
  });
  expect(byName("joined")?.userId).toBe("user-1");
  expect(byName("after-sign-out")?.userId).toBeUndefined();
});

it("records nothing under Do Not Track", async () => {
  const page = createFakePage({ isDoNotTrack: true });
  const tracker = start(page, { trackHistory: true });
  tracker.page();
  tracker.track("clicked");
  page.leave();
  await vi.advanceTimersByTimeAsync(10_000);
  expect(page.posts).toHaveLength(0);
  expect(page.beacons).toHaveLength(0);
  expect(tracker.isOptedOut()).toBe(true);
});

it("stops on optOut (forgetting the queue, across pages) and resumes on optIn", async () => {
  const page = createFakePage();
  const tracker = start(page);
  tracker.track("before");
  tracker.optOut();
  tracker.track("while-out");
  expect(start(page).isOptedOut()).toBe(true);
  await vi.advanceTimersByTimeAsync(10_000);
  expect(page.posts).toHaveLength(0);
  tracker.optIn();
  tracker.track("after");
  await vi.advanceTimersByTimeAsync(5_000);
  expect(page.posts.flatMap((post) => post.body.batch.map((item) => item.name))).toEqual(["after"]);
});

it("lets beforeSend change or drop an interaction, and survives it throwing", async () => {
  const page = createFakePage();
  const tracker = start(page, {
    beforeSend: (interaction) => {
      if (interaction.name === "secret") return null;
      if (interaction.name === "boom") throw new Error("hook failed");
      return { ...interaction, properties: { ...interaction.properties, tagged: true } };
    },
  });
  tracker.track("secret");
  expect(() => {
    tracker.track("boom");
  }).not.toThrow();
  tracker.track("kept");
  await tracker.flush();
  expect(page.posts.flatMap((post) => post.body.batch)).toMatchObject([
    { name: "kept", properties: { tagged: true } },
  ]);
});

it("records page views at start and on history navigation when asked, once per path", async () => {
  const page = createFakePage();
  start(page, { trackHistory: true });
  page.navigate("/events");
  page.navigate("/events");
  page.navigate("/events/1");
  await vi.advanceTimersByTimeAsync(5_000);
  const paths = page.posts.flatMap((post) => post.body.batch.map((item) => item.context?.page?.path));
  expect(paths).toEqual(["/", "/events", "/events/1"]);
});

it("never throws into the page, even when storage and the network both throw", async () => {
  const broken: KeyValueStore = {
    getItem: () => {
      throw new Error("SecurityError");
    },
    setItem: () => {
      throw new Error("QuotaExceededError");
    },
    removeItem: () => {
      throw new Error("SecurityError");
    },
  };
  const page = createFakePage({
    storage: broken,
    post: () => {
      throw new Error("synchronous failure");
    },
    beacon: () => {
      throw new Error("beacon failure");
    },
  });
  const tracker = start(page, { flushAt: 1 });
  expect(() => {
    tracker.page();
    tracker.track("clicked");
    tracker.identify("user-1");
    page.leave();
  }).not.toThrow();
  await expect(tracker.flush()).resolves.toBeUndefined();
  await vi.advanceTimersByTimeAsync(120_000);
});
