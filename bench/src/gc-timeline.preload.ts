import { appendFileSync } from "node:fs";
import { PerformanceObserver } from "node:perf_hooks";

// Loaded into the ingest scenario's collector with `--import` (NODE_OPTIONS): appends every garbage
// collection pause of the main thread to BENCH_GC_TIMELINE, a JSON array `[startEpochMs, ms, kind]` a line,
// once a second, so the bench can set the pauses beside its slowest answers (core-sampler.ts). Its cost: one
// observer callback per collection (a few a second) and one small append a second.

const file = process.env.BENCH_GC_TIMELINE;
if (file !== undefined && file !== "") {
  let pending: string[] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0;
      const start = performance.timeOrigin + entry.startTime;
      pending.push(`[${start.toFixed(2)},${entry.duration.toFixed(3)},${kind}]\n`);
    }
  }).observe({ entryTypes: ["gc"] });
  setInterval(() => {
    if (pending.length === 0) return;
    appendFileSync(file, pending.join(""));
    pending = [];
  }, 1_000).unref();
}
