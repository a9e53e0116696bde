import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "./backoff.ts";

const policy = { firstMs: 100, maxMs: 3_000 };

describe("backoffDelayMs", () => {
  it("doubles from the first delay up to the ceiling when the jitter takes the whole delay", () => {
    const delays = [1, 2, 3, 4, 5, 6, 50, 10_000].map((retry) => backoffDelayMs(policy, retry, () => 1));
    expect(delays).toEqual([100, 200, 400, 800, 1_600, 3_000, 3_000, 3_000]);
  });

  it("never waits less than half the un-jittered delay", () => {
    const delays = [1, 2, 3, 6].map((retry) => backoffDelayMs(policy, retry, () => 0));
    expect(delays).toEqual([50, 100, 200, 1_500]);
  });

  it("spreads retriers that failed together over the upper half of the delay", () => {
    const delays = Array.from({ length: 1_000 }, () => backoffDelayMs(policy, 4));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...delays)).toBeLessThanOrEqual(800);
    // 1,000 draws from 401 possible values: a lockstep (or nearly so) implementation shows only a few.
    expect(new Set(delays).size).toBeGreaterThan(200);
  });

  it("treats a retry number below 1 as the first retry", () => {
    expect(backoffDelayMs(policy, 0, () => 1)).toBe(100);
  });
});
