import { subscribe } from "node:diagnostics_channel";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

// Loaded into a server under test with `--import` (NODE_OPTIONS), because node 20 refuses --cpu-prof there.
// It writes its pid to BENCH_CPU_PROFILE_DIR/server.pid and profiles only between two SIGUSR2s, so a profile
// holds the burst and not the start-up: the first SIGUSR2 starts sampling, the second writes
// profile-<n>.cpuprofile (open it in Chrome's DevTools, or summarise it with bench/src/cpu-profile-summary.ts)
// and timeline-<n>.json: when, from the first signal, the server began each request and finished its answer.

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir !== undefined && dir !== "") {
  // Session.post on the main thread answers synchronously, so the profile is written within the signal handler.
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  // Finer sampling starves the sampler on two busy cores: its samples then come in bursts with gaps.
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  let startedAt: number | null = null;
  let written = 0;
  const began: number[] = [];
  const finished: number[] = [];
  subscribe("http.server.request.start", () => {
    if (startedAt !== null) began.push(performance.now() - startedAt);
  });
  subscribe("http.server.response.finish", () => {
    if (startedAt !== null) finished.push(performance.now() - startedAt);
  });
  process.on("SIGUSR2", () => {
    if (startedAt === null) {
      began.length = 0;
      finished.length = 0;
      startedAt = performance.now();
      session.post("Profiler.start");
      return;
    }
    startedAt = null;
    session.post("Profiler.stop", (error, result) => {
      if (error !== null) return;
      written++;
      writeFileSync(join(dir, `profile-${written}.cpuprofile`), JSON.stringify(result.profile));
      writeFileSync(join(dir, `timeline-${written}.json`), JSON.stringify({ began, finished }));
    });
  });
  writeFileSync(join(dir, "server.pid"), String(process.pid));
}
