import { describe, expect, it } from "vitest";
import { createManualClock } from "../../platform/clock.ts";
import { acceptsGzip, createReadCache } from "./read-cache.ts";

function countingLoader(value: string | null, delayMs = 5) {
  const calls = { count: 0 };
  const load = async () => {
    calls.count++;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return value;
  };
  return { calls, load };
}

describe("read cache", () => {
  it("loads a key once for a crowd of concurrent readers", async () => {
    const cache = createReadCache<string>(60_000, createManualClock());
    const { calls, load } = countingLoader("page");
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.read("k", load)));
    expect(new Set(values)).toEqual(new Set(["page"]));
    expect(calls.count).toBe(1);
    await cache.read("k", load);
    expect(calls.count).toBe(1);
  });

  it("loads again once the entry has lived its time, or was forgotten, or cleared", async () => {
    const clock = createManualClock();
    const cache = createReadCache<string>(30, clock);
    const { calls, load } = countingLoader("page", 0);
    await cache.read("k", load);
    clock.advance(60);
    await cache.read("k", load);
    expect(calls.count).toBe(2);
    cache.forget("k");
    await cache.read("k", load);
    cache.clear();
    await cache.read("k", load);
    expect(calls.count).toBe(4);
  });

  it("serves the last value while one background load refreshes it, then the new one", async () => {
    const clock = createManualClock();
    const cache = createReadCache<string>(30, clock);
    let version = 0;
    const load = async () => {
      version++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return `v${version}`;
    };
    expect(await cache.read("k", load)).toBe("v1");
    clock.advance(35);
    const during = await Promise.all([cache.read("k", load), cache.read("k", load)]);
    expect(during).toEqual(["v1", "v1"]);
    expect(version).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await cache.read("k", load)).toBe("v2");
    // Long unread: past twice its time an entry is not served stale; the reader waits for a fresh load.
    clock.advance(70);
    expect(await cache.read("k", load)).toBe("v3");
  });

  it("keeps neither null nor failures", async () => {
    const cache = createReadCache<string>(60_000, createManualClock());
    const missing = countingLoader(null, 0);
    await cache.read("k", missing.load);
    await cache.read("k", missing.load);
    expect(missing.calls.count).toBe(2);
    await expect(cache.read("f", () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(await cache.read("f", () => Promise.resolve("up"))).toBe("up");
  });

  it("takes its time from the injected clock, and forgets what was stored before the clock stepped back", async () => {
    const clock = createManualClock();
    const cache = createReadCache<string>(1_000, clock);
    const { calls, load } = countingLoader("page", 0);
    await cache.read("k", load);
    clock.advance(999);
    await cache.read("k", load);
    expect(calls.count).toBe(1);
    clock.advance(-60_000);
    await cache.read("k", load);
    expect(calls.count).toBe(2);
  });

  it("with a time of 0, always loads", async () => {
    const cache = createReadCache<string>(0, createManualClock());
    const { calls, load } = countingLoader("page", 0);
    await Promise.all([cache.read("k", load), cache.read("k", load)]);
    expect(calls.count).toBe(2);
  });
});

describe("acceptsGzip", () => {
  it("reads gzip with a weight above 0 from Accept-Encoding, and nothing else", () => {
    expect(acceptsGzip("gzip, deflate, br, zstd")).toBe(true);
    expect(acceptsGzip("br;q=1.0, GZIP;q=0.5")).toBe(true);
    expect(acceptsGzip("gzip;q=0")).toBe(false);
    expect(acceptsGzip("gzip ; q=0.0")).toBe(false);
    expect(acceptsGzip("deflate, br")).toBe(false);
    expect(acceptsGzip("x-gzip2")).toBe(false);
    expect(acceptsGzip("")).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
  });
});
