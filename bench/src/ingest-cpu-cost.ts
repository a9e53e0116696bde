import { fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { createBenchDatabase } from "./bench-database.ts";
import { BENCH_NATS_URL, deleteStreams } from "./bench-nats.ts";
import { ITEMS_PER_BATCH, type SendResult } from "./ingest-senders.ts";
import { startTurnout } from "./turnout-server.ts";

/*
 * `node --import tsx bench/src/ingest-cpu-cost.ts`: the ingest pipeline's CPU time per interaction, by
 * process, which unlike a rate hardly depends on what else the machine runs (ADR 0015). Starts the collector,
 * the processor and the senders as the `ingest` scenario does, sends for INGEST_CPU_SECONDS (default 8), waits
 * until every accepted row is stored, and divides each process's CPU time (all its threads, from
 * /proc/<pid>/task/<tid>/schedstat, in nanoseconds) by the rows stored: the senders, the collector, the
 * processor, the database's sessions of the processor (PGAPPNAME), and the shared nats-server (which other work may use
 * too: read it as an upper bound). Prints one JSON line last.
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.INGEST_CPU_SECONDS ?? 8);
const SENDERS = Number(process.env.BENCH_INGEST_SENDERS ?? 32);
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR;
const PROFILE_PRELOAD = join(import.meta.dirname, "cpu-profile.preload.ts");
const PROCESSOR = join(import.meta.dirname, "../../apps/server/test/interaction-processor.fixture.ts");

/** CPU nanoseconds of every thread of `pid` (0 when it has gone). */
function cpuNs(pid: number): number {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    }
    return total;
  } catch {
    return 0;
  }
}

function natsPid(): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "nats-server") return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

const streamName = `bench_ingest_${randomBytes(6).toString("hex")}`;
const database = await createBenchDatabase(ADMIN_URL, () => Promise.resolve());
const env = { DATABASE_URL: database.url, NATS_URL: BENCH_NATS_URL, INTERACTIONS_STREAM: streamName };
// With BENCH_CPU_PROFILE_DIR, the collector (there) and the processor (in processor/) are profiled while sending.
const profiled = (dir: string): Record<string, string> =>
  PROFILE_DIR === undefined
    ? {}
    : { BENCH_CPU_PROFILE_DIR: dir, NODE_OPTIONS: `--import tsx --import ${PROFILE_PRELOAD}` };
if (PROFILE_DIR !== undefined) {
  for (const dir of ["processor", "senders"]) mkdirSync(join(PROFILE_DIR, dir), { recursive: true });
}
const collector = await startTurnout(database.url, {
  ...env,
  ROLES: "collector",
  RATE_LIMIT_COLLECT: "0",
  ...profiled(PROFILE_DIR ?? ""),
});
const processor = spawn(process.execPath, ["--import", "tsx", PROCESSOR], {
  env: {
    ...process.env,
    ...env,
    PGAPPNAME: "ingest-processor",
    ...profiled(join(PROFILE_DIR ?? "", "processor")),
  },
  stdio: ["ignore", "pipe", "inherit"],
});
const generator: ChildProcess = fork(join(import.meta.dirname, "ingest-senders.ts"), [], {
  execArgv: ["--import", "tsx"],
  env: { ...process.env, ...profiled(join(PROFILE_DIR ?? "", "senders")) },
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
try {
  await new Promise<void>((resolve) => {
    processor.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("READY")) resolve();
    });
  });
  const result = new Promise<SendResult>((resolve) => {
    generator.on("message", (message: { result?: SendResult }) => {
      if (message.result !== undefined) resolve(message.result);
    });
  });
  await sleep(1_000);
  const { rows: sessions } = await sql<{ pid: number }>`
    SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ingest-processor'`.execute(
    database.db,
  );
  const pids = {
    senders: [generator.pid ?? 0],
    collector: [collector.pid],
    processor: [processor.pid ?? 0],
    database: sessions.map((session) => session.pid),
    nats: [natsPid()],
  };
  const sample = () =>
    Object.fromEntries(
      Object.entries(pids).map(([name, list]) => [name, list.reduce((sum, pid) => sum + cpuNs(pid), 0)]),
    );
  const toggleProfiles = () => {
    if (PROFILE_DIR === undefined) return;
    for (const dir of [PROFILE_DIR, join(PROFILE_DIR, "processor"), join(PROFILE_DIR, "senders")]) {
      process.kill(Number(readFileSync(join(dir, "server.pid"), "utf8")), "SIGUSR2");
    }
  };
  toggleProfiles();
  const before = sample();
  const startedAt = Date.now();
  generator.send({
    cmd: "send",
    url: collector.baseUrl,
    prefix: "u",
    senders: SENDERS,
    durationS: SECONDS,
    probeEvery: 1e9,
  });
  const sent = await result;
  toggleProfiles();
  const accepted = sent.acceptedBatches.reduce((sum, batches) => sum + batches, 0) * ITEMS_PER_BATCH;
  let stored = 0;
  while (stored < accepted) {
    await sleep(200);
    const { rows } = await sql<{ count: number }>`SELECT count(*)::int AS count FROM interactions`.execute(
      database.db,
    );
    stored = rows[0]?.count ?? 0;
  }
  const loadedMs = Date.now() - startedAt;
  const { rows: laterSessions } = await sql<{ pid: number }>`
    SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ingest-processor'`.execute(
    database.db,
  );
  const fresh = laterSessions.map((session) => session.pid).filter((pid) => !pids.database.includes(pid));
  pids.database.push(...fresh);
  const after = sample();
  const usPerItem = Object.fromEntries(
    Object.keys(before).map((name) => [
      name,
      Math.round(((after[name] ?? 0) - (before[name] ?? 0)) / stored / 10) / 100,
    ]),
  );
  const total = Object.values(usPerItem).reduce((sum, us) => sum + us, 0);
  console.log(
    JSON.stringify({
      usPerItem: { ...usPerItem, total: Math.round(total * 100) / 100 },
      stored,
      acceptedPerSec: Math.round(accepted / (sent.elapsedMs / 1000)),
      loadedPerSec: Math.round(stored / (loadedMs / 1000)),
      p99Ms: sent.p99Ms,
      statuses: sent.statuses,
      load: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    }),
  );
} finally {
  generator.kill("SIGKILL");
  processor.kill("SIGKILL");
  await collector.close();
  await deleteStreams([streamName]);
  await database.drop();
}
