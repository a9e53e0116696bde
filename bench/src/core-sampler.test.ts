import { describe, expect, it } from "vitest";
import { tailReport, type CoreSamples, type Tick } from "./core-sampler.ts";

// Ten ticks of 100 ms from t = 0; in ticks 3 and 4 the collector's loop waits 80 ms of 100 for a CPU while the
// processor's sessions run, elsewhere it runs 10 ms and sleeps.
function samples(): CoreSamples {
  const ticks: Tick[] = Array.from({ length: 10 }, (_unused, i) => {
    const slow = i === 3 || i === 4;
    return {
      startMs: i * 100,
      endMs: (i + 1) * 100,
      groups: {
        collector: { runNs: (slow ? 20 : 10) * 1e6, waitNs: (slow ? 80 : 0) * 1e6, statNs: 0 },
        pgProcessor: { runNs: (slow ? 180 : 20) * 1e6, waitNs: 0, statNs: 0 },
      },
      threads: {
        "collector loop": { runNs: (slow ? 20 : 10) * 1e6, waitNs: (slow ? 80 : 0) * 1e6, statNs: 0 },
      },
      machine: {
        busyNs: (slow ? 200 : 40) * 1e6,
        idleNs: 0,
        stealNs: 0,
        cpuPressureNs: (slow ? 80 : 0) * 1e6,
      },
    };
  });
  return { ticks, others: [], cores: 2 };
}

describe("the core sampler's tail report", () => {
  it("finds the ticks the slowest answers waited through, and what the loop and the groups did then", () => {
    // 99 answers of 2 ms spread over the ticks, and one of 200 ms through ticks 3 and 4.
    const answers = Array.from({ length: 99 }, (_unused, i) => ({ dueMs: i * 10, ms: 2 }));
    answers.push({ dueMs: 300, ms: 200 });
    const report = tailReport(samples(), answers, [{ startMs: 350, ms: 10 }]);
    expect(report.thresholdMs).toBe(200);
    expect(report.tailTicks).toBe(2);
    expect(report.decomposition.tail).toEqual({ answers: 1, run: 20, gc: 5, wait: 80, sleep: 0 });
    expect(report.groups.pgProcessor?.tail.cpu).toBe(90);
    expect(report.groups.pgProcessor?.rest.cpu).toBe(10);
    expect(report.groups.others?.tail.cpu).toBe(0);
    expect(report.threads["collector loop"]?.tail).toEqual({ run: 20, wait: 80 });
    expect(report.machine.tail.pressure).toBe(80);
    expect(report.loopWaitCorrelation.pgProcessor).toBe(1);
  });
});
