import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { processCpuMs } from "./burst.ts";

// What else ran while a burst was answered (ADR 0005, 2026-12-06 "after the storm"): the CPU time every
// process of the machine used during it, grouped (the server, the load generator, the PostgreSQL sessions
// of the bench's database, autovacuum, PostgreSQL's background processes, everything else), and what
// PostgreSQL was doing, sampled from pg_stat_activity while the burst ran.

export interface BurstObservation {
  /** CPU ms per group of processes during the burst, and the machine's idle ms (all cores). */
  cpuMs: Record<CpuGroup, number>;
  /** The server's garbage collection during the burst, ms (its /metrics: nodejs_gc_duration_seconds). */
  serverGcMs: number;
  /** The same by V8's kind of collection: "minor" (scavenges), "major" (mark-compact), "incremental", "weakcb". */
  serverGcByKind: Record<string, { count: number; ms: number }>;
  /** The server's heap spaces when the burst began, MiB used (its /metrics: nodejs_heap_space_size_used_bytes). */
  serverHeapMiB: Record<string, number>;
  /** The server's collections so far when the burst began (to compare with an earlier serverGc). */
  serverGcBefore: ServerGc;
  /** Wall ms the observation lasted (times the cores gives the CPU the machine had). */
  wallMs: number;
  /** The three processes outside the groups named above that used most CPU, "command: ms". */
  otherTop: string;
  /** "what: samples" for every non-idle state the samples found, most frequent first. */
  activity: string;
  samples: number;
  /**
   * The cluster's WAL and checkpoint counters' growth over the burst (pg_stat_wal, pg_stat_bgwriter; the
   * whole cluster, and sessions report them up to a second late, so they bound rather than measure).
   */
  writes: WriteCounters;
}

export interface WriteCounters {
  walBytes: number;
  walSyncs: number;
  checkpoints: number;
  buffersWritten: number;
}

export type CpuGroup =
  | "server"
  | "loadGenerator"
  | "postgresBench"
  | "autovacuum"
  | "postgresBackground"
  | "postgresOther"
  | "other"
  | "idle";

export interface BurstObserver {
  /** The burst starts now (the observer is runJoinBurst's `around`). */
  before(): Promise<void>;
  /** The burst's last answer came now. */
  after(): Promise<void>;
  /** What was seen between before() and after(); closes the sampling connection. */
  result(): Promise<BurstObservation>;
}

const SAMPLE_EVERY_MS = 20;

/**
 * Connects to `adminUrl` and samples pg_stat_activity every 20 ms on that connection, keeping the samples
 * taken between before() and after(), which also take a CPU snapshot of every process. `databaseName` is the
 * bench's database; `serverPid` the server under test.
 */
export async function observeBurst(
  adminUrl: string,
  databaseName: string,
  server: { pid: number; baseUrl: string },
  // Off for a long stretch such as the storm, whose CPU shares the samples' own queries would move.
  { sampleActivity = true }: { sampleActivity?: boolean } = {},
): Promise<BurstObserver> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const counts = new Map<string, number>();
  let samples = 0;
  let phase = "before" as "before" | "during" | "after";
  const sampleOnce = async () => {
    const { rows } = await client.query<{ what: string }>(SAMPLE_QUERY, [databaseName]);
    if (phase !== "during") return;
    samples++;
    for (const { what } of rows) counts.set(what, (counts.get(what) ?? 0) + 1);
  };
  const sampling = (async () => {
    while (phase !== "after") {
      await Promise.all([sampleActivity ? sampleOnce() : undefined, sleep(SAMPLE_EVERY_MS)]);
    }
  })();
  const classify = classifier(databaseName, server.pid);
  let gcBefore: ServerGc = { byKind: {}, heapMiB: {} };
  let gcAfter: ServerGc = { byKind: {}, heapMiB: {} };
  let before: CpuSnapshot | undefined;
  let after: CpuSnapshot | undefined;
  let startedAt = 0;
  let wallMs = 0;
  // Queued on the sampling connection: sent as soon as the sample in flight is answered.
  const readWrites = () => client.query<WriteCounters>(WRITES_QUERY).then(({ rows }) => rows[0]);
  let writesBefore: Promise<WriteCounters | undefined> | undefined;
  let writesAfter: Promise<WriteCounters | undefined> | undefined;
  return {
    async before() {
      gcBefore = await serverGc(server.baseUrl);
      writesBefore = readWrites();
      before = cpuSnapshot(classify);
      startedAt = performance.now();
      phase = "during";
    },
    async after() {
      phase = "after";
      wallMs = Math.round(performance.now() - startedAt);
      after = cpuSnapshot(classify);
      writesAfter = readWrites();
      gcAfter = await serverGc(server.baseUrl);
    },
    async result() {
      phase = "after";
      const [first, last] = await Promise.all([writesBefore, writesAfter, sampling]).finally(() =>
        client.end(),
      );
      if (before === undefined || after === undefined || first === undefined || last === undefined)
        throw new Error("result() before before() and after()");
      const activity = [...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([what, n]) => `${what}: ${n}`)
        .join("; ");
      return {
        cpuMs: difference(before, after),
        serverGcMs: Math.round(
          Object.values(gcDuring(gcBefore, gcAfter)).reduce((sum, { ms }) => sum + ms, 0),
        ),
        serverGcByKind: gcDuring(gcBefore, gcAfter),
        serverHeapMiB: gcBefore.heapMiB,
        serverGcBefore: gcBefore,
        otherTop: topOthers(before, after),
        wallMs,
        activity,
        samples,
        writes: {
          walBytes: last.walBytes - first.walBytes,
          walSyncs: last.walSyncs - first.walSyncs,
          checkpoints: last.checkpoints - first.checkpoints,
          buffersWritten: last.buffersWritten - first.buffersWritten,
        },
      };
    },
  };
}

const WRITES_QUERY = `
  SELECT w.wal_bytes::float8 AS "walBytes", w.wal_sync::float8 AS "walSyncs",
    (b.checkpoints_timed + b.checkpoints_req)::float8 AS checkpoints,
    (b.buffers_checkpoint + b.buffers_clean + b.buffers_backend)::float8 AS "buffersWritten"
  FROM pg_stat_wal w, pg_stat_bgwriter b
`;

// Every backend of the bench's database that is not idle, by state and wait; every autovacuum worker
// (cluster-wide: the machine's cores are shared) by what it works on, with its vacuum phase if any.
const SAMPLE_QUERY = `
  SELECT CASE
      WHEN a.backend_type = 'autovacuum worker' THEN
        coalesce(a.query, 'autovacuum') || coalesce(' (' || v.phase || ')', '') ||
        CASE WHEN a.datname = $1 THEN '' ELSE ' in another database' END
      WHEN a.backend_type = 'checkpointer' THEN 'checkpoint under way (' || coalesce(a.wait_event, 'on CPU') || ')'
      ELSE a.state || coalesce(' waiting ' || a.wait_event_type || ':' || a.wait_event, ' on CPU')
    END AS what
  FROM pg_stat_activity a
  LEFT JOIN pg_stat_progress_vacuum v ON v.pid = a.pid
  WHERE a.pid <> pg_backend_pid()
    AND (a.backend_type = 'autovacuum worker'
      OR (a.backend_type = 'checkpointer' AND a.wait_event IS DISTINCT FROM 'CheckpointerMain')
      OR (a.datname = $1 AND a.backend_type = 'client backend' AND a.state <> 'idle'))
`;

interface CpuSnapshot {
  /** CPU ms used so far per pid, with its group */
  processes: Map<number, { group: CpuGroup; ms: number; command: string }>;
  idleMs: number;
}

function classifier(databaseName: string, serverPid: number): (pid: number, command: string) => CpuGroup {
  return (pid, command) => {
    if (pid === serverPid) return "server";
    if (pid === process.pid) return "loadGenerator";
    if (!command.startsWith("postgres: ")) return "other";
    if (command.includes("autovacuum worker")) return "autovacuum";
    if (command.includes(` ${databaseName} `)) return "postgresBench";
    if (
      /^postgres: (checkpointer|background writer|walwriter|autovacuum launcher|logical replication)/.test(
        command,
      )
    )
      return "postgresBackground";
    return "postgresOther";
  };
}

function cpuSnapshot(classify: (pid: number, command: string) => CpuGroup): CpuSnapshot {
  const processes = new Map<number, { group: CpuGroup; ms: number; command: string }>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ");
      const ms = processCpuMs(pid);
      processes.set(pid, { group: classify(pid, command), ms, command: command.slice(0, 60).trim() });
    } catch {
      // exited while we looked
    }
  }
  const cpu = readFileSync("/proc/stat", "latin1").split("\n")[0]?.trim().split(/\s+/) ?? [];
  // cpu user nice system idle iowait ..., in USER_HZ ticks: 10 ms on every Linux this runs on (processCpuMs).
  const idleMs = (Number(cpu[4]) + Number(cpu[5])) * 10;
  return { processes, idleMs };
}

// Processes that started during the burst count from zero; those that ended during it are not seen.
function difference(before: CpuSnapshot, after: CpuSnapshot): Record<CpuGroup, number> {
  const ms: Record<CpuGroup, number> = {
    server: 0,
    loadGenerator: 0,
    postgresBench: 0,
    autovacuum: 0,
    postgresBackground: 0,
    postgresOther: 0,
    other: 0,
    idle: after.idleMs - before.idleMs,
  };
  for (const [pid, { group, ms: used }] of after.processes) {
    ms[group] += used - (before.processes.get(pid)?.ms ?? 0);
  }
  return ms;
}

function topOthers(before: CpuSnapshot, after: CpuSnapshot): string {
  return [...after.processes]
    .filter(([, { group }]) => group === "other")
    .map(([pid, { ms, command }]) => ({
      command,
      ms: ms - (before.processes.get(pid)?.ms ?? 0),
    }))
    .filter(({ ms }) => ms > 0)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 3)
    .map(({ command, ms }) => `${command}: ${ms}`)
    .join("; ");
}

export interface ServerGc {
  /** Per kind of collection, so far: how many and seconds. */
  byKind: Record<string, { count: number; seconds: number }>;
  heapMiB: Record<string, number>;
}

// The server's garbage collection so far (prom-client's nodejs_gc_duration_seconds, by kind) and its heap
// spaces now (nodejs_heap_space_size_used_bytes).
export async function serverGc(baseUrl: string): Promise<ServerGc> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const byKind: ServerGc["byKind"] = {};
  for (const match of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)$/gm)) {
    const [, field, kind = "", value] = match;
    const entry = (byKind[kind] ??= { count: 0, seconds: 0 });
    if (field === "sum") entry.seconds = Number(value);
    else entry.count = Number(value);
  }
  const heapMiB: Record<string, number> = {};
  for (const match of text.matchAll(/^nodejs_heap_space_size_(used|total)_bytes\{space="(\w+)"\} (\S+)$/gm)) {
    // "new" is what the young generation holds, "new/size" how large it is now (it grows and shrinks).
    const [, field, space = "", bytes] = match;
    if (field === "used" || space === "new")
      heapMiB[field === "used" ? space : `${space}/size`] = Math.round(Number(bytes) / 2 ** 20);
  }
  return { byKind, heapMiB };
}

export function gcDuring(before: ServerGc, after: ServerGc): Record<string, { count: number; ms: number }> {
  const during: Record<string, { count: number; ms: number }> = {};
  for (const [kind, { count, seconds }] of Object.entries(after.byKind)) {
    const earlier = before.byKind[kind] ?? { count: 0, seconds: 0 };
    if (count === earlier.count) continue;
    during[kind] = {
      count: count - earlier.count,
      ms: Math.round((seconds - earlier.seconds) * 10_000) / 10,
    };
  }
  return during;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
