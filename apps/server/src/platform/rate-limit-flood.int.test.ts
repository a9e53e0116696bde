import { errorBodySchema } from "@turnout/contracts";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { createManualClock } from "./clock.ts";
import { installErrorHandler } from "./errors.ts";
import { createWindowCounter, DEFAULT_MAX_TRACKED_KEYS, installRequestRateLimit } from "./rate-limit.ts";

/*
 * The per-minute limiter under a flood of distinct addresses: its memory stays bounded, and callers past the
 * bound are still limited. The hook runs in a real Fastify app (inject), keyed by address as for anonymous
 * callers.
 */

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

async function limitedApp(max: number, maxKeys: number) {
  const clock = createManualClock(new Date("2026-06-01T10:00:00Z"));
  const app = Fastify();
  installErrorHandler(app);
  const counter = installRequestRateLimit(app, { max, clock, maxKeys }, (request) => `ip:${request.ip}`);
  app.get("/ping", () => ({ ok: true }));
  await app.ready();
  apps.push(app);
  if (counter === undefined) throw new Error("limiter not installed");
  return { app, counter, clock };
}

function addressOf(i: number): string {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

describe("request limiter under a flood of distinct addresses", () => {
  it("tracks at most maxKeys callers by name, and starts empty in the next window", async () => {
    const { app, counter, clock } = await limitedApp(5, 1000);
    for (let i = 0; i < 5000; i++) {
      const response = await app.inject({ url: "/ping", remoteAddress: addressOf(i) });
      expect(response.statusCode).toBe(200);
    }
    expect(counter.trackedKeys()).toBe(1000);
    clock.advance(60_000);
    await app.inject({ url: "/ping", remoteAddress: "192.0.2.1" });
    expect(counter.trackedKeys()).toBe(1);
  });

  it("still limits a caller that arrives after the bound was reached, with 429 and Retry-After", async () => {
    const { app, counter } = await limitedApp(5, 100);
    for (let i = 0; i < 300; i++) await app.inject({ url: "/ping", remoteAddress: addressOf(i) });
    expect(counter.trackedKeys()).toBe(100);

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await app.inject({ url: "/ping", remoteAddress: "198.51.100.7" })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const limited = await app.inject({ url: "/ping", remoteAddress: "198.51.100.7" });
    expect(errorBodySchema.parse(limited.json()).error.code).toBe("rate_limited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    // A caller tracked by name before the flood keeps its own exact count.
    expect((await app.inject({ url: "/ping", remoteAddress: addressOf(0) })).statusCode).toBe(200);
  });

  it("keeps a million distinct callers in a window within the bound, and counts them all", () => {
    const counter = createWindowCounter({ windowMs: 60_000, maxKeys: DEFAULT_MAX_TRACKED_KEYS });
    let limited = 0;
    for (let i = 0; i < 1_000_000; i++) if (counter.count(`ip:${addressOf(i)}:${i}`, 0) > 1_200) limited++;
    expect(counter.trackedKeys()).toBe(DEFAULT_MAX_TRACKED_KEYS);
    // 900,000 callers over 65,536 shared slots: about 14 hits a slot, far from the default limit of 1,200.
    expect(limited).toBe(0);
  });
});
