import { readFileSync } from "node:fs";

// What the benches read of a process from /proc, rather than from its /metrics: a scrape costs the measured
// server CPU of its own, and a sample could miss the peak.

/** A process's peak resident memory so far in MiB (the kernel's high-water mark, VmHWM). */
export function processPeakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN) / 1024);
}
