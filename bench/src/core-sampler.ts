import { readdirSync, readFileSync } from "node:fs";
import { percentile } from "./burst.ts";

/*
 * What holds the two cores while a bench runs (ADR 0015, 2026-12-06 evening). Every TICK_MS (100 ms) it reads,
 * for each named group of processes (the collector, the processor, the senders, nats-server, PostgreSQL's
 * sessions and background processes, ...), over every thread of each (/proc/PID/task/TID/schedstat): the time
 * run on a CPU and the time spent runnable but waiting for a CPU (the run-queue wait); and /proc/PID/stat's
 * utime + stime (clock ticks, which also keep the time of threads that have exited). Named threads (the
 * collector's event loop) are also kept apart. For the whole machine: /proc/stat (busy, idle, steal) and
 * /proc/pressure/cpu (the time at least one task waited for a CPU). Every OTHERS_EVERY_TICKS ticks (1 s) it
 * reads every other process's /proc/PID/stat, to name what else ran. Reading costs the bench's own process
 * about 1 ms a tick; it is in the `bench` group when the caller names it.
 */

export const TICK_MS = 100;
/** The first seconds of traffic, a cold collector's, are also reported apart (ingest-senders.ts). */
const WARM_AFTER_MS = 3_000;
const OTHERS_EVERY_TICKS = 10;
// USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK).
const NS_PER_CLOCK_TICK = 10_000_000;

/** Nanoseconds run, waited for a CPU, and the utime + stime of /proc/PID/stat in ns. */
export interface Times {
  runNs: number;
  waitNs: number;
  statNs: number;
}

export interface Tick {
  /** Epoch ms (performance.timeOrigin + performance.now(), comparable across processes). */
  startMs: number;
  endMs: number;
  groups: Record<string, Times>;
  threads: Record<string, Times>;
  machine: { busyNs: number; idleNs: number; stealNs: number; cpuPressureNs: number };
}

export interface OthersSample {
  startMs: number;
  endMs: number;
  /** CPU ns by command name of the processes in no group. */
  byCommand: Record<string, number>;
}

export interface CoreSamples {
  ticks: Tick[];
  others: OthersSample[];
  cores: number;
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function readSchedstat(path: string): [number, number] {
  const [run = "0", wait = "0"] = readFileSync(path, "utf8").split(" ");
  return [Number(run), Number(wait)];
}

function statNsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at state; utime and stime are 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * NS_PER_CLOCK_TICK;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

interface Reading {
  runNs: number;
  waitNs: number;
}

function machineNow(): Tick["machine"] {
  const [, ...fields] = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
    fields.map(Number);
  let cpuPressureNs = 0;
  try {
    const total = /total=(\d+)/.exec(readFileSync("/proc/pressure/cpu", "utf8"))?.[1];
    cpuPressureNs = Number(total ?? 0) * 1000;
  } catch {
    // no PSI on this kernel
  }
  return {
    busyNs: (user + nice + system + irq + softirq) * NS_PER_CLOCK_TICK,
    idleNs: (idle + iowait) * NS_PER_CLOCK_TICK,
    stealNs: steal * NS_PER_CLOCK_TICK,
    cpuPressureNs,
  };
}

export interface CoreSampler {
  /** Sets (or replaces) a group's processes; a process new to the sampler counts from its first reading. */
  setGroup(name: string, pids: readonly number[]): void;
  /** Keeps one thread apart under `name` (e.g. the collector's event loop: tid = pid). */
  setThread(name: string, pid: number, tid: number): void;
  /** Stops sampling and returns what it saw. */
  stop(): CoreSamples;
}

export function startCoreSampler(cores: number): CoreSampler {
  const groups = new Map<string, readonly number[]>();
  const threads = new Map<string, { pid: number; tid: number }>();
  const lastThread = new Map<string, Reading>();
  const lastStat = new Map<number, number>();
  const lastOthers = new Map<number, number>();
  const ticks: Tick[] = [];
  const others: OthersSample[] = [];
  let lastMachine = machineNow();
  let tickStart = nowMs();
  let othersStart = tickStart;
  let count = 0;

  const delta = (key: string, now: Reading): Reading => {
    const before = lastThread.get(key);
    lastThread.set(key, now);
    return before === undefined
      ? { runNs: 0, waitNs: 0 }
      : { runNs: now.runNs - before.runNs, waitNs: now.waitNs - before.waitNs };
  };

  const sampleGroup = (pids: readonly number[]): Times => {
    const times: Times = { runNs: 0, waitNs: 0, statNs: 0 };
    for (const pid of pids) {
      try {
        const stat = statNsOf(pid);
        const before = lastStat.get(pid);
        lastStat.set(pid, stat);
        if (before !== undefined) times.statNs += stat - before;
        for (const tid of readdirSync(`/proc/${pid}/task`)) {
          const [runNs, waitNs] = readSchedstat(`/proc/${pid}/task/${tid}/schedstat`);
          const d = delta(`${pid}/${tid}`, { runNs, waitNs });
          times.runNs += d.runNs;
          times.waitNs += d.waitNs;
        }
      } catch {
        // gone meanwhile
      }
    }
    return times;
  };

  const sampleOthers = (endMs: number) => {
    const grouped = new Set<number>();
    for (const pids of groups.values()) for (const pid of pids) grouped.add(pid);
    const byCommand: Record<string, number> = {};
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      if (grouped.has(pid)) continue;
      try {
        const stat = statNsOf(pid);
        const before = lastOthers.get(pid);
        lastOthers.set(pid, stat);
        if (before === undefined || stat === before) continue;
        const command = commandOf(pid);
        byCommand[command] = (byCommand[command] ?? 0) + stat - before;
      } catch {
        // gone meanwhile
      }
    }
    if (count > 0) others.push({ startMs: othersStart, endMs, byCommand });
    othersStart = endMs;
  };

  const sample = () => {
    const endMs = nowMs();
    const tick: Tick = { startMs: tickStart, endMs, groups: {}, threads: {}, machine: lastMachine };
    for (const [name, pids] of groups) tick.groups[name] = sampleGroup(pids);
    for (const [name, { pid, tid }] of threads) {
      try {
        const [runNs, waitNs] = readSchedstat(`/proc/${pid}/task/${tid}/schedstat`);
        const d = delta(`thread ${name}`, { runNs, waitNs });
        tick.threads[name] = { ...d, statNs: 0 };
      } catch {
        // gone
      }
    }
    const machine = machineNow();
    tick.machine = {
      busyNs: machine.busyNs - lastMachine.busyNs,
      idleNs: machine.idleNs - lastMachine.idleNs,
      stealNs: machine.stealNs - lastMachine.stealNs,
      cpuPressureNs: machine.cpuPressureNs - lastMachine.cpuPressureNs,
    };
    lastMachine = machine;
    if (count > 0) ticks.push(tick);
    if (count % OTHERS_EVERY_TICKS === 0) sampleOthers(endMs);
    count++;
    tickStart = endMs;
  };
  sample();
  const timer = setInterval(sample, TICK_MS);
  return {
    setGroup(name, pids) {
      groups.set(name, [...pids]);
    },
    setThread(name, pid, tid) {
      threads.set(name, { pid, tid });
    },
    stop() {
      clearInterval(timer);
      sample();
      return { ticks, others, cores };
    },
  };
}

/**
 * The machine's TCP counters that cost a client a retransmission timeout (200 ms to seconds) so far: SYNs and
 * handshakes dropped at a full listen queue (ListenDrops), SYNs retransmitted, retransmission timeouts, and
 * segments retransmitted; from /proc/net/netstat and /proc/net/snmp. Machine-wide: other work counts too.
 */
export function tcpCounters(): Record<string, number> {
  const read = (file: string, prefix: string, names: string[]) => {
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.startsWith(prefix));
    const keys = lines[0]?.split(" ") ?? [];
    const values = lines[1]?.split(" ") ?? [];
    return names.map((name) => [name, Number(values[keys.indexOf(name)] ?? 0)] as const);
  };
  return Object.fromEntries([
    ...read("/proc/net/netstat", "TcpExt:", ["ListenDrops", "TCPSynRetrans", "TCPTimeouts"]),
    ...read("/proc/net/snmp", "Tcp:", ["RetransSegs"]),
  ]);
}

/** PIDs of every process whose command name is `command` (e.g. nats-server). */
export function pidsOfCommand(command: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (/^\d+$/.test(entry) && commandOf(Number(entry)) === command) pids.push(Number(entry));
  }
  return pids;
}

/** One answer of the collector: when its batch was due and how long it took (epoch ms, ms). */
export interface TimedAnswer {
  dueMs: number;
  ms: number;
}

interface Share {
  /** Per cent of the machine's CPU (all cores) the group ran. */
  cpu: number;
  /** Threads of the group waiting for a CPU, on average (ms waited per ms of wall). */
  waiting: number;
}

/** A pause of the collector's main thread for garbage collection (epoch ms, ms). */
export interface Pause {
  startMs: number;
  ms: number;
}

/** Where an answer's time went, per cent of its latency, on the event loop named first. */
export interface Decomposition {
  answers: number;
  /** The loop ran (its own work: requests, GC, ...). */
  run: number;
  /** Of which garbage collection pauses. */
  gc: number;
  /** The loop was runnable but waited for a CPU. */
  wait: number;
  /** The loop slept (nothing to do: the request not read yet, the JetStream acknowledgement awaited). */
  sleep: number;
}

export interface TailReport {
  /** The latency an answer must reach to be in the tail (the run's p99). */
  thresholdMs: number;
  tailTicks: number;
  otherTicks: number;
  /** Per group: its share in the ticks a tail answer was waiting through, in the rest, and over all. */
  groups: Record<string, { tail: Share; rest: Share; all: Share }>;
  /** The named threads: per cent of the wall they ran and waited for a CPU (the rest they slept). */
  threads: Record<string, { tail: { run: number; wait: number }; rest: { run: number; wait: number } }>;
  /** The machine: busy, steal and CPU pressure (some task waiting) as per cent of the wall. */
  machine: {
    tail: { busy: number; steal: number; pressure: number };
    rest: { busy: number; steal: number; pressure: number };
  };
  /** Processes in no group that ran most in the seconds holding tail answers, "command ms/s". */
  othersInTail: string;
  /**
   * Per group, over the ticks: the correlation of its CPU time with the event loop's wait for a CPU (who runs
   * while the loop waits), -1 .. 1.
   */
  loopWaitCorrelation: Record<string, number>;
  /** Tail answers against the others, their latency split by what the event loop did meanwhile. */
  decomposition: { tail: Decomposition; rest: Decomposition };
  /** The same for the answers due after the first WARM_AFTER_MS, against their own p99. */
  warm: { thresholdMs: number; tail: Decomposition; rest: Decomposition };
  /** The seconds of the run by due time: collector p99 there, and its event loop's wait for a CPU. */
  seconds: { second: number; p99Ms: number; loopWaitPct: number; loopRunPct: number }[];
}

const round1 = (value: number) => Math.round(value * 10) / 10;
const OTHERS = "others";

/**
 * Which ticks a tail answer (latency >= the run's p99) was waiting through, and what held the cores then
 * against the other ticks of the same span (from the first due batch to the last answer).
 */
export function tailReport(
  samples: CoreSamples,
  answers: readonly TimedAnswer[],
  pauses: readonly Pause[] = [],
): TailReport {
  const thresholdMs = percentile(
    answers.map((answer) => answer.ms),
    0.99,
  );
  const firstDue = answers.reduce((min, answer) => Math.min(min, answer.dueMs), Number.POSITIVE_INFINITY);
  const lastAnswer = answers.reduce((max, answer) => Math.max(max, answer.dueMs + answer.ms), 0);
  const ticks = samples.ticks.filter((tick) => tick.endMs > firstDue && tick.startMs < lastAnswer);
  const tail = answers.filter((answer) => answer.ms >= thresholdMs);
  const overlaps = (startMs: number, endMs: number) =>
    tail.some((answer) => answer.dueMs < endMs && answer.dueMs + answer.ms > startMs);
  const inTail = ticks.filter((tick) => overlaps(tick.startMs, tick.endMs));
  const rest = ticks.filter((tick) => !overlaps(tick.startMs, tick.endMs));
  const wallNs = (list: Tick[]) => list.reduce((sum, tick) => sum + (tick.endMs - tick.startMs) * 1e6, 0);
  // "others": the machine's busy time less every group's (other work on the machine, the kernel's threads);
  // /proc/stat counts in 10 ms ticks, so it is coarse in one tick and fair over many.
  const runOf = (tick: Tick, name: string) =>
    name === OTHERS
      ? tick.machine.busyNs - Object.values(tick.groups).reduce((sum, times) => sum + times.runNs, 0)
      : (tick.groups[name]?.runNs ?? 0);
  const share = (list: Tick[], name: string): Share => {
    const wall = wallNs(list) || 1;
    const run = list.reduce((sum, tick) => sum + runOf(tick, name), 0);
    const wait = list.reduce((sum, tick) => sum + (tick.groups[name]?.waitNs ?? 0), 0);
    return {
      cpu: round1((run / wall / samples.cores) * 100),
      waiting: Math.round((wait / wall) * 100) / 100,
    };
  };
  const groupNames = [...new Set(ticks.flatMap((tick) => Object.keys(tick.groups))), OTHERS];
  const threadNames = [...new Set(ticks.flatMap((tick) => Object.keys(tick.threads)))];
  const loop = threadNames[0];
  const threadShare = (list: Tick[], name: string) => {
    const wall = wallNs(list) || 1;
    const run = list.reduce((sum, tick) => sum + (tick.threads[name]?.runNs ?? 0), 0);
    const wait = list.reduce((sum, tick) => sum + (tick.threads[name]?.waitNs ?? 0), 0);
    return { run: round1((run / wall) * 100), wait: round1((wait / wall) * 100) };
  };
  const machine = (list: Tick[]) => {
    const wall = wallNs(list) || 1;
    const sum = (key: keyof Tick["machine"]) => list.reduce((total, tick) => total + tick.machine[key], 0);
    return {
      busy: round1((sum("busyNs") / wall / samples.cores) * 100),
      steal: round1((sum("stealNs") / wall / samples.cores) * 100),
      pressure: round1((sum("cpuPressureNs") / wall) * 100),
    };
  };
  const tailSeconds = samples.others.filter(
    (sample) => sample.endMs > firstDue && overlaps(sample.startMs, sample.endMs),
  );
  const othersWallS =
    tailSeconds.reduce((sum, sample) => sum + (sample.endMs - sample.startMs) / 1000, 0) || 1;
  const byCommand: Record<string, number> = {};
  for (const sample of tailSeconds)
    for (const [command, ns] of Object.entries(sample.byCommand))
      byCommand[command] = (byCommand[command] ?? 0) + ns;
  const othersInTail = Object.entries(byCommand)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 4)
    .map(([command, ns]) => `${command} ${Math.round(ns / 1e6 / othersWallS)}`)
    .join(", ");
  const warm = answers.filter((answer) => answer.dueMs >= firstDue + WARM_AFTER_MS);
  const warmThresholdMs = percentile(
    warm.map((answer) => answer.ms),
    0.99,
  );
  const seconds: TailReport["seconds"] = [];
  for (let second = 0; firstDue + second * 1000 < lastAnswer; second++) {
    const from = firstDue + second * 1000;
    const inSecond = answers.filter((answer) => answer.dueMs >= from && answer.dueMs < from + 1000);
    if (inSecond.length === 0) continue;
    const secondTicks = ticks.filter((tick) => tick.endMs > from && tick.startMs < from + 1000);
    const loopShare = loop === undefined ? { run: 0, wait: 0 } : threadShare(secondTicks, loop);
    seconds.push({
      second,
      p99Ms: percentile(
        inSecond.map((answer) => answer.ms),
        0.99,
      ),
      loopWaitPct: loopShare.wait,
      loopRunPct: loopShare.run,
    });
  }
  const decompose = (list: readonly TimedAnswer[]): Decomposition => {
    const total = { run: 0, gc: 0, wait: 0, latency: 0 };
    for (const answer of list) {
      const from = answer.dueMs;
      const to = answer.dueMs + answer.ms;
      total.latency += answer.ms;
      for (let i = firstTickEnding(ticks, from); i < ticks.length; i++) {
        const tick = ticks[i];
        if (tick === undefined || tick.startMs >= to) break;
        const part = (Math.min(to, tick.endMs) - Math.max(from, tick.startMs)) / (tick.endMs - tick.startMs);
        const times = loop === undefined ? undefined : tick.threads[loop];
        total.run += ((times?.runNs ?? 0) / 1e6) * part;
        total.wait += ((times?.waitNs ?? 0) / 1e6) * part;
      }
      for (const pause of pauses) {
        const overlap = Math.min(to, pause.startMs + pause.ms) - Math.max(from, pause.startMs);
        if (overlap > 0) total.gc += overlap;
      }
    }
    const pct = (ms: number) => round1((ms / (total.latency || 1)) * 100);
    return {
      answers: list.length,
      run: pct(total.run),
      gc: pct(total.gc),
      wait: pct(total.wait),
      sleep: pct(Math.max(0, total.latency - total.run - total.wait)),
    };
  };
  const loopWaits = ticks.map((tick) => (loop === undefined ? 0 : (tick.threads[loop]?.waitNs ?? 0)));
  const loopWaitCorrelation = Object.fromEntries(
    groupNames.map((name) => [
      name,
      Math.round(
        correlation(
          loopWaits,
          ticks.map((tick) => runOf(tick, name)),
        ) * 100,
      ) / 100,
    ]),
  );
  return {
    thresholdMs,
    loopWaitCorrelation,
    tailTicks: inTail.length,
    otherTicks: rest.length,
    groups: Object.fromEntries(
      groupNames.map((name) => [
        name,
        { tail: share(inTail, name), rest: share(rest, name), all: share(ticks, name) },
      ]),
    ),
    threads: Object.fromEntries(
      threadNames.map((name) => [name, { tail: threadShare(inTail, name), rest: threadShare(rest, name) }]),
    ),
    machine: { tail: machine(inTail), rest: machine(rest) },
    othersInTail,
    decomposition: {
      tail: decompose(tail),
      rest: decompose(answers.filter((answer) => answer.ms < thresholdMs)),
    },
    warm: {
      thresholdMs: warmThresholdMs,
      tail: decompose(warm.filter((answer) => answer.ms >= warmThresholdMs)),
      rest: decompose(warm.filter((answer) => answer.ms < warmThresholdMs)),
    },
    seconds,
  };
}

/** Pearson's correlation of two series of the same length (0 when either is constant). */
function correlation(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n === 0) return 0;
  const meanX = xs.reduce((sum, x) => sum + x, 0) / n;
  const meanY = ys.reduce((sum, y) => sum + y, 0) / n;
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - meanX;
    const dy = (ys[i] ?? 0) - meanY;
    xy += dx * dy;
    xx += dx * dx;
    yy += dy * dy;
  }
  return xx === 0 || yy === 0 ? 0 : xy / Math.sqrt(xx * yy);
}

/** The index of the first tick ending after `ms` (ticks in order). */
function firstTickEnding(ticks: readonly Tick[], ms: number): number {
  let low = 0;
  let high = ticks.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((ticks[middle]?.endMs ?? 0) <= ms) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The report as a few progress lines. */
export function formatTailReport(report: TailReport): string[] {
  const groups = Object.entries(report.groups)
    .map(
      ([name, { tail, rest, all }]) =>
        `${name} ${tail.cpu}/${rest.cpu}/${all.cpu}% cpu, ${tail.waiting}/${rest.waiting} waiting`,
    )
    .join("; ");
  const threads = Object.entries(report.threads)
    .map(
      ([name, { tail, rest }]) =>
        `${name}: ran ${tail.run}/${rest.run}%, waited for a CPU ${tail.wait}/${rest.wait}% of the wall`,
    )
    .join("; ");
  const { tail, rest } = report.machine;
  const slowest = [...report.seconds]
    .sort((a, b) => b.p99Ms - a.p99Ms)
    .slice(0, 5)
    .map((s) => `s${s.second} p99 ${s.p99Ms} ms loop ran ${s.loopRunPct}% waited ${s.loopWaitPct}%`)
    .join("; ");
  const split = ({ answers, run, gc, wait, sleep }: Decomposition) =>
    `${answers} answers: loop ran ${run}% (GC ${gc}%), waited for a CPU ${wait}%, slept ${sleep}%`;
  return [
    `cores: where the answers' time went (collector's event loop, % of their latency): tail ${split(report.decomposition.tail)}; rest ${split(report.decomposition.rest)}`,
    `cores: the same after the first ${WARM_AFTER_MS / 1000} s, tail >= ${report.warm.thresholdMs} ms (their p99): tail ${split(report.warm.tail)}; rest ${split(report.warm.rest)}`,
    `cores: tail = the ${report.tailTicks} ticks of ${TICK_MS} ms that an answer of >= ${report.thresholdMs} ms (p99) waited through; rest = the other ${report.otherTicks}; figures tail/rest`,
    `cores: machine busy ${tail.busy}/${rest.busy}%, steal ${tail.steal}/${rest.steal}%, CPU pressure (some task waiting) ${tail.pressure}/${rest.pressure}% of the wall`,
    `cores: ${threads}`,
    `cores: per group, tail/rest/all: per cent of the machine's CPU, and its threads waiting for a CPU (average count): ${groups}`,
    `cores: others in the tail's seconds (ms/s): ${report.othersInTail}`,
    `cores: correlation, over the ticks, of each group's CPU with the collector loop's wait for a CPU: ${Object.entries(
      report.loopWaitCorrelation,
    )
      .sort(([, a], [, b]) => b - a)
      .map(([name, r]) => `${name} ${r}`)
      .join(", ")}`,
    `cores: slowest seconds by due time: ${slowest}`,
  ];
}
