import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";

// Loaded into a server under test with `--import` (NODE_OPTIONS) when BENCH_HEAP_DIR is set; it writes its
// pid to BENCH_HEAP_DIR/server.pid and answers SIGUSR2 by BENCH_HEAP_MODE:
// - "snapshot" (the default): each signal writes heap-<n>.heapsnapshot (a full collection first, so it
//   shows what is retained; summarise it with bench/src/heap-snapshot-summary.ts);
// - "sampling": the first signal starts V8's sampling heap profiler, the second writes
//   allocations-<n>.heapprofile (what was allocated in between, by function, including what is already
//   garbage; open it in Chrome's DevTools or summarise it with heap-snapshot-summary.ts too).

const dir = process.env.BENCH_HEAP_DIR;
if (dir !== undefined && dir !== "") {
  const mode = process.env.BENCH_HEAP_MODE ?? "snapshot";
  const session = new Session();
  session.connect();
  let written = 0;
  let sampling = false;
  process.on("SIGUSR2", () => {
    if (mode === "snapshot") {
      written++;
      writeHeapSnapshot(join(dir, `heap-${written}.heapsnapshot`));
      return;
    }
    if (!sampling) {
      sampling = true;
      // Every 32 KiB allocated on average (V8's default): cheap enough to leave the storm's rate near its own.
      // With what the collectors freed since: every allocation, not only what is still alive.
      session.post("HeapProfiler.startSampling", {
        samplingInterval: 32_768,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      return;
    }
    sampling = false;
    session.post("HeapProfiler.stopSampling", (error, result) => {
      if (error !== null) return;
      written++;
      writeFileSync(join(dir, `allocations-${written}.heapprofile`), JSON.stringify(result.profile));
    });
  });
  writeFileSync(join(dir, "server.pid"), String(process.pid));
}
