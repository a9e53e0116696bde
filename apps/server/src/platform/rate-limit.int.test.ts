import { errorBodySchema } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../test/app.ts";
import { bearer, createUser } from "../../test/factories.ts";
import { createManualClock } from "./clock.ts";
import { countHit, uncountHit } from "./rate-limit.ts";

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ env: { RATE_LIMIT_REQUESTS: "5" } });
});
afterAll(() => t.close());

describe("requests per minute", () => {
  it("limits a user to N requests, then 429 rate_limited with Retry-After; other users are unaffected", async () => {
    const [alice, bob] = await Promise.all([createUser(t), createUser(t)]);
    // Different addresses for the same user: the key is the user, not the address.
    for (let i = 0; i < 5; i++) {
      const response = await t.app.inject({
        method: "GET",
        url: "/api/me",
        headers: bearer(alice),
        remoteAddress: `10.1.0.${i + 1}`,
      });
      expect(response.statusCode).toBe(200);
    }
    const limited = await t.app.inject({
      method: "GET",
      url: "/api/me",
      headers: bearer(alice),
      remoteAddress: "10.1.0.99",
    });
    expect(limited.statusCode).toBe(429);
    expect(errorBodySchema.parse(limited.json()).error.code).toBe("rate_limited");
    const retryAfter = Number(limited.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await t.app.inject({ method: "GET", url: "/api/me", headers: bearer(bob) })).statusCode).toBe(
      200,
    );
  });

  it("limits anonymous callers by address", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (await t.app.inject({ method: "GET", url: "/api/me", remoteAddress: "10.2.0.1" })).statusCode,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect(
      (await t.app.inject({ method: "GET", url: "/api/me", remoteAddress: "10.2.0.2" })).statusCode,
    ).toBe(401);
  });

  it("never limits /healthz, /readyz and /metrics", async () => {
    for (let i = 0; i < 8; i++) {
      for (const url of ["/healthz", "/readyz", "/metrics"]) {
        const response = await t.app.inject({ method: "GET", url, remoteAddress: "10.3.0.1" });
        expect(response.statusCode, url).toBe(200);
      }
    }
  });

  it("starts a fresh window once the minute is over, and says so in Retry-After", async () => {
    const clock = createManualClock();
    const timed = await createTestApp({ env: { RATE_LIMIT_REQUESTS: "2" }, deps: { clock } });
    try {
      const status = async () =>
        (await timed.app.inject({ method: "GET", url: "/api/me", remoteAddress: "10.4.0.1" })).statusCode;
      expect([await status(), await status()]).toEqual([401, 401]);
      clock.advance(45_000);
      const limited = await timed.app.inject({ method: "GET", url: "/api/me", remoteAddress: "10.4.0.1" });
      expect(limited.statusCode).toBe(429);
      expect(limited.headers["retry-after"]).toBe("15");
      clock.advance(15_000);
      expect(await status()).toBe(401);
    } finally {
      await timed.close();
    }
  });

  it("is off with RATE_LIMIT_REQUESTS=0", async () => {
    const unlimited = await createTestApp({ env: { RATE_LIMIT_REQUESTS: "0" } });
    try {
      for (let i = 0; i < 20; i++) {
        expect((await unlimited.app.inject({ method: "GET", url: "/api/me" })).statusCode).toBe(401);
      }
    } finally {
      await unlimited.close();
    }
  });
});

describe("PostgreSQL counters", () => {
  it("count hits in a fixed window that starts again once it has passed", async () => {
    const at = (iso: string) => ({ scope: "test", key: "k1", windowMs: 60_000, now: new Date(iso) });
    expect(await countHit(t.deps.db, at("2026-01-01T00:00:00Z"))).toEqual({ hits: 1, retryAfterMs: 60_000 });
    expect(await countHit(t.deps.db, at("2026-01-01T00:00:20Z"))).toEqual({ hits: 2, retryAfterMs: 40_000 });
    await uncountHit(t.deps.db, "test", "k1");
    expect(await countHit(t.deps.db, at("2026-01-01T00:00:30Z"))).toEqual({ hits: 2, retryAfterMs: 30_000 });
    expect(await countHit(t.deps.db, at("2026-01-01T00:01:00Z"))).toEqual({ hits: 1, retryAfterMs: 60_000 });
  });

  it("count every one of many concurrent hits", async () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        countHit(t.deps.db, { scope: "test", key: "k2", windowMs: 60_000, now }),
      ),
    );
    expect(results.map((result) => result.hits).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
  });
});
