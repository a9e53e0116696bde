import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GCProfiler, type GCProfilerResult } from "node:v8";

// Loaded into the fanout scenario's gateway with `--expose-gc --import` (NODE_OPTIONS). It writes its pid to
// BENCH_GC_DIR/server.pid; on SIGWINCH it collects garbage and then writes BENCH_GC_DIR/memory.json
// (process.memoryUsage()), so the scenario compares what stays alive per connection, not garbage the
// handshakes left that the collector has not come to yet.
// The sample also says what the collector did since the previous sample (before this one's own collection):
// how many collections of each kind, their pauses on the main thread, and how many bytes the program allocated
// (the heap in use before each collection minus after the one before). Unlike a latency these do not depend on
// what else runs on the machine. Beside them, the process's write system calls so far (Linux's /proc/self/io
// syscw; -1 elsewhere): one per socket write, whatever the load.

export interface GcWindow {
  collections: Record<string, number>;
  pauseMs: number;
  maxPauseMs: number;
  allocatedBytes: number;
}

export interface GcSample extends NodeJS.MemoryUsage {
  gc: GcWindow;
  writeSyscalls: number;
}

const dir = process.env.BENCH_GC_DIR;
const gc = (globalThis as { gc?: () => void }).gc;
if (dir !== undefined && dir !== "" && gc !== undefined) {
  let profiler = new GCProfiler();
  let usedAtStart = process.memoryUsage().heapUsed;
  profiler.start();
  process.on("SIGWINCH", () => {
    const writeSyscalls = countWriteSyscalls();
    const window = summarise(profiler.stop(), usedAtStart, process.memoryUsage().heapUsed);
    gc();
    gc();
    const memory = process.memoryUsage();
    writeFileSync(join(dir, "memory.json"), JSON.stringify({ ...memory, gc: window, writeSyscalls }));
    usedAtStart = memory.heapUsed;
    profiler = new GCProfiler();
    profiler.start();
  });
  writeFileSync(join(dir, "server.pid"), String(process.pid));
}

// GCProfiler's cost is in microseconds.
function summarise(profile: GCProfilerResult, usedAtStart: number, usedNow: number): GcWindow {
  const collections: Record<string, number> = {};
  let pauseMicros = 0;
  let maxPauseMicros = 0;
  let allocated = 0;
  let used = usedAtStart;
  for (const entry of profile.statistics) {
    collections[entry.gcType] = (collections[entry.gcType] ?? 0) + 1;
    pauseMicros += entry.cost;
    maxPauseMicros = Math.max(maxPauseMicros, entry.cost);
    allocated += Math.max(0, entry.beforeGC.heapStatistics.usedHeapSize - used);
    used = entry.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += Math.max(0, usedNow - used);
  return {
    collections,
    pauseMs: Math.round(pauseMicros / 100) / 10,
    maxPauseMs: Math.round(maxPauseMicros / 100) / 10,
    allocatedBytes: allocated,
  };
}

function countWriteSyscalls(): number {
  try {
    const match = /^syscw: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"));
    return match === null ? -1 : Number(match[1]);
  } catch {
    return -1;
  }
}
