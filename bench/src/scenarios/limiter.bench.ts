import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createWindowCounter } from "../../../apps/server/src/platform/rate-limit.ts";
import { progress, type Scenario } from "../scenario.ts";

/*
 * The per-minute request limiter's counter (ADR 0010) against its physical reference, a plain Map of counts
 * (what it was before it had a bound): nanoseconds per counted request with 10,000 known callers, and heap
 * growth when 2,000,000 distinct callers arrive in one window. In-process: no server, no network.
 */

const KNOWN_CALLERS = 10_000;
const CALLS = 20_000_000;
const FLOOD = 2_000_000;

interface Counter {
  count(key: string, now: number): number;
}

function createPlainMapCounter(): Counter {
  const hits = new Map<string, number>();
  return {
    count(key) {
      const count = (hits.get(key) ?? 0) + 1;
      hits.set(key, count);
      return count;
    },
  };
}

function createBoundedCounter(): Counter {
  return createWindowCounter({ windowMs: 60_000, maxKeys: 100_000 });
}

function measureNsPerCall(make: () => Counter): number {
  const keys = Array.from(
    { length: KNOWN_CALLERS },
    (_, i) => `user:0190aaaa-bbbb-7ccc-8ddd-${String(i).padStart(12, "0")}`,
  );
  const counter = make();
  let sink = 0;
  for (let i = 0; i < CALLS / 10; i++) sink += counter.count(keys[i % KNOWN_CALLERS] ?? "", 1);
  const startedAt = performance.now();
  for (let i = 0; i < CALLS; i++) sink += counter.count(keys[i % KNOWN_CALLERS] ?? "", 1);
  const ms = performance.now() - startedAt;
  if (sink === 0) throw new Error("nothing counted");
  return (ms * 1e6) / CALLS;
}

function measureFloodMiB(make: () => Counter, collect: () => void): number {
  collect();
  const before = process.memoryUsage().heapUsed;
  const counter = make();
  for (let i = 0; i < FLOOD; i++) counter.count(`ip:10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, 1);
  collect();
  const grown = process.memoryUsage().heapUsed - before;
  if (counter.count("ip:kept-alive", 1) === 0) throw new Error("counter lost");
  return grown / (1024 * 1024);
}

const round = (value: number) => Math.round(value * 10) / 10;

const scenario: Scenario = {
  async run() {
    setFlagsFromString("--expose-gc");
    const collect = runInNewContext("gc") as () => void;
    progress("limiter: hot path, plain Map then bounded counter, twice each");
    const plainNs = Math.min(
      measureNsPerCall(createPlainMapCounter),
      measureNsPerCall(createPlainMapCounter),
    );
    const boundedNs = Math.min(
      measureNsPerCall(createBoundedCounter),
      measureNsPerCall(createBoundedCounter),
    );
    progress(`limiter: flood of ${FLOOD} distinct callers`);
    const plainMiB = measureFloodMiB(createPlainMapCounter, collect);
    const boundedMiB = measureFloodMiB(createBoundedCounter, collect);
    return Promise.resolve({
      scenario: "limiter",
      boundedNsPerCall: round(boundedNs),
      plainMapNsPerCall: round(plainNs),
      floodCallers: FLOOD,
      boundedFloodMiB: round(boundedMiB),
      plainMapFloodMiB: round(plainMiB),
    });
  },
};

export default scenario;
