import { expect, it } from "vitest";
import { createBacklog } from "./backlog.ts";

const limits = { maxBatches: 20_000, maxWaitMs: 1_000, floorBatches: 256 };

/** Samples every 500 ms: `appendedPerSecond` in, `drainedPerSecond` out, from `waiting` batches. */
function run(appendedPerSecond: number, drainedPerSecond: number, waiting: number, seconds: number) {
  const backlog = createBacklog(limits);
  let appended = 1_000_000;
  for (let at = 0; at <= seconds * 1000; at += 500) {
    backlog.observe({ waiting, appended, at });
    appended += appendedPerSecond / 2;
    waiting = Math.max(0, waiting + (appendedPerSecond - drainedPerSecond) / 2);
  }
  return backlog;
}

it("refuses once the waiting batches take longer than maxWaitMs to drain at the measured rate", () => {
  // The processors drain 500 batches/s; 700/s arrive: the backlog grows by 200 a second, to 600 (1.2 s).
  const growing = run(700, 500, 0, 3);
  expect(growing.drainPerSecond()).toBeCloseTo(500, 0);
  expect(growing.waiting()).toBe(600);
  expect(growing.isBackedUp()).toBe(true);
  // 550/s arrive: it grows to 450 (0.9 s of loading): accepted.
  const short = run(550, 500, 300, 3);
  expect(short.waiting()).toBe(450);
  expect(short.isBackedUp()).toBe(false);
  // Far below the batch cap of 20,000 in both cases: the cap alone would let a minute of work pile up.
});

it("follows the drain rate: the same backlog is fine for fast processors and too much for slow ones", () => {
  expect(run(2_000, 2_000, 900, 3).isBackedUp()).toBe(false);
  expect(run(300, 300, 900, 3).isBackedUp()).toBe(true);
});

it("never refuses below the floor, and always above the batch cap", () => {
  // A processor that drains nothing (stopped, or not started): up to the floor, then refused.
  expect(run(0, 0, 200, 2).isBackedUp()).toBe(false);
  expect(run(0, 0, 300, 2).isBackedUp()).toBe(true);
  const capped = createBacklog({ ...limits, maxBatches: 2, floorBatches: 256 });
  capped.observe({ waiting: 3, appended: 3, at: 0 });
  expect(capped.isBackedUp()).toBe(true);
});
