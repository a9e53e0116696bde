import { writeFileSync } from "node:fs";
import { join } from "node:path";

// Loaded into the fanout scenario's gateway with `--expose-gc --import` (NODE_OPTIONS). It writes its pid to
// BENCH_GC_DIR/server.pid; on SIGWINCH it collects garbage and then writes BENCH_GC_DIR/memory.json
// (process.memoryUsage()), so the scenario compares what stays alive per connection, not garbage the
// handshakes left that the collector has not come to yet.

const dir = process.env.BENCH_GC_DIR;
const gc = (globalThis as { gc?: () => void }).gc;
if (dir !== undefined && dir !== "" && gc !== undefined) {
  process.on("SIGWINCH", () => {
    gc();
    gc();
    writeFileSync(join(dir, "memory.json"), JSON.stringify(process.memoryUsage()));
  });
  writeFileSync(join(dir, "server.pid"), String(process.pid));
}
