import { fork, spawn, type ChildProcess } from "node:child_process";
import { BENCH_NATS_URL, deleteStreams } from "../bench-nats.ts";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { readdirSync } from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { BUILTIN_SOURCE_ID } from "../../../apps/server/src/modules/interactions/index.ts";
import { createBenchDatabase, type BenchDatabase } from "../bench-database.ts";
import {
  formatTailReport,
  tcpCounters,
  pidsOfCommand,
  startCoreSampler,
  tailReport,
  type Pause,
  type TimedAnswer,
} from "../core-sampler.ts";
import { ITEMS_PER_BATCH, type SendCommand, type SendResult } from "../ingest-senders.ts";
import { progress, type Scenario } from "../scenario.ts";
import { startTurnout } from "../turnout-server.ts";

/*
 * ingest (issue 14): RATE interactions per second (default 32,000, above the 30,000 target), offered on a fixed
 * schedule as SENDERS id streams (open loop: each batch is posted when due, on as many connections as the
 * answers' lag needs; BENCH_INGEST_RATE=0 gives the former closed loops of SENDERS senders, each posting its next
 * batch when its last one was answered), post batches of 50 interactions to the real collector
 * (ROLES=collector, cluster mode) for SECONDS; the collector appends them to a JetStream stream of this run's
 * own name on the shared NATS, and the real processor (its own process) COPYs them into PostgreSQL.
 *   acceptedPerSec   items answered 202 per second of sending
 *   loadedPerSec     rows stored per second, from the first send until the last accepted row was visible
 *   collectorP99Ms   p99 of the 202 answers' times, measured by the senders from when each batch was due (open
 *                    loop; a 429's retry is due when its Retry-After ends), so a collector that falls behind
 *                    the schedule shows it here
 *   queryableP99Ms   p99 from a batch's 202 to its first row being visible to a query (a sample of batches)
 *   rawCopyRowsPerSec  the same number of rows of the same shape COPYed straight into `interactions` in one
 *                      statement (the reference: what PostgreSQL itself takes here); ratioVsCopy = loaded/copy
 *   lost, duplicated   accepted ids missing from the table; rows beyond one per accepted id
 * Then the same again with the processor killed with SIGKILL 10 s in and started again: crashLost,
 * crashDuplicated. The load generator runs in its own process (ingest-senders.ts). With BENCH_CPU_PROFILE_DIR
 * the collector and the processor (in processor/) are profiled during the first run's sending
 * (cpu-profile.preload.ts).
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 30);
const SENDERS = Number(process.env.BENCH_INGEST_SENDERS ?? 32);
// Items per second offered on a schedule (open loop, ingest-senders.ts); 0: closed-loop senders.
const RATE = Number(process.env.BENCH_INGEST_RATE ?? 32_000);
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR;
const KILL_AFTER_MS = 10_000;
const PROBE_EVERY = 10;
const PROBE_POLL_MS = 20;
const DRAIN_DEADLINE_MS = 180_000;
const PROFILE_PRELOAD = join(import.meta.dirname, "../cpu-profile.preload.ts");
const GC_PRELOAD = join(import.meta.dirname, "../gc-timeline.preload.ts");
// BENCH_INGEST_OBSERVE=0: no core sampler and no GC observer in the collector (to see what they cost).
const OBSERVE = process.env.BENCH_INGEST_OBSERVE !== "0";
const PROCESSOR_APP_NAME = "ingest-processor";
// BENCH_INGEST_BATCH_NICE=N (1..19): the processor and its PostgreSQL sessions run at that nice value (lower CPU
// priority than the collector), an experiment of ADR 0015 (2026-12-06 evening); 0 (default): as they come.
const BATCH_NICE = Number(process.env.BENCH_INGEST_BATCH_NICE ?? 0);
const PROCESSOR = join(import.meta.dirname, "../../../apps/server/test/interaction-processor.fixture.ts");

const ingest: Scenario = {
  async run() {
    const streamName = `bench_ingest_${randomBytes(6).toString("hex")}`;
    if (PROFILE_DIR !== undefined) await mkdir(join(PROFILE_DIR, "processor"), { recursive: true });
    const database = await createBenchDatabase(ADMIN_URL, () => Promise.resolve());
    const env = {
      DATABASE_URL: database.url,
      NATS_URL: BENCH_NATS_URL,
      INTERACTIONS_STREAM: streamName,
      PGAPPNAME: PROCESSOR_APP_NAME,
    };
    const gcDir = await mkdtemp(join(tmpdir(), "ingest-gc-"));
    const gcTimeline = join(gcDir, "collector-gc.jsonl");
    const preloads = [
      ...(PROFILE_DIR === undefined ? [] : [PROFILE_PRELOAD]),
      ...(OBSERVE ? [GC_PRELOAD] : []),
    ];
    const collector = await startTurnout(database.url, {
      ...env,
      PGAPPNAME: "ingest-collector",
      ROLES: "collector",
      RATE_LIMIT_COLLECT: "0",
      BENCH_GC_TIMELINE: gcTimeline,
      ...(preloads.length === 0
        ? {}
        : { NODE_OPTIONS: ["--import tsx", ...preloads.map((file) => `--import ${file}`)].join(" ") }),
    });
    let processor = await startProcessor(
      PROFILE_DIR === undefined
        ? env
        : {
            ...env,
            BENCH_CPU_PROFILE_DIR: join(PROFILE_DIR, "processor"),
            NODE_OPTIONS: `--import tsx --import ${PROFILE_PRELOAD}`,
          },
    );
    const observed: Observed = {
      collectorPid: collector.pid,
      processorPid: () => processor.pid,
      gcTimeline,
    };
    const generator = await startGenerator();
    try {
      progress(
        `ingest: ${RATE > 0 ? `${RATE} items/s offered on a schedule as` : "closed loops of"} ${SENDERS} senders x ${ITEMS_PER_BATCH} items for ${SECONDS} s, stream ${streamName}${BATCH_NICE > 0 ? `, processor and its sessions at nice ${BATCH_NICE}` : ""}`,
      );
      const toggleProfile = await profileToggle();
      const toggleProcessorProfile = await profileToggle("processor");
      toggleProfile();
      toggleProcessorProfile();
      const run = await sendAndDrain(database, generator, collector.baseUrl, "a", observed, () => {
        toggleProfile();
        toggleProcessorProfile();
      });
      const counts = await countRows(database, "a", run.sent.acceptedBatches);
      progress(`ingest: ${JSON.stringify({ ...run.sent, acceptedBatches: undefined, timeline: undefined })}`);
      for (const line of run.cores) progress(`ingest: ${line}`);
      progress(`ingest: loaded ${counts.stored} rows, lost ${counts.lost}, duplicated ${counts.duplicated}`);

      const copy = await rawCopy(database.url, run.accepted);
      progress(`ingest: raw COPY of ${run.accepted} rows in ${copy.ms} ms`);

      progress(`ingest: again, with the processor killed (SIGKILL) ${KILL_AFTER_MS / 1000} s in`);
      const crashRun = sendAndDrain(database, generator, collector.baseUrl, "c", observed);
      await sleep(KILL_AFTER_MS);
      processor.kill();
      progress(`ingest: processor killed; starting another`);
      processor = await startProcessor(env);
      const crashed = await crashRun;
      const crashCounts = await countRows(database, "c", crashed.sent.acceptedBatches);
      progress(
        `ingest: crash run accepted ${crashed.accepted}, stored ${crashCounts.stored}, lost ${crashCounts.lost}, duplicated ${crashCounts.duplicated}; collector p50 ${crashed.sent.p50Ms}, p99 ${crashed.sent.p99Ms} (first 3 s ${crashed.sent.p99First3sMs}, after ${crashed.sent.p99WarmMs}) ms`,
      );
      for (const line of crashed.cores) progress(`ingest: crash run ${line}`);

      const acceptedPerSec = Math.round(run.accepted / (run.sent.elapsedMs / 1000));
      const loadedPerSec = Math.round(counts.stored / (run.loadedMs / 1000));
      const rawCopyRowsPerSec = Math.round(run.accepted / (copy.ms / 1000));
      return {
        scenario: "ingest",
        acceptedPerSec,
        loadedPerSec,
        collectorP99Ms: run.sent.p99Ms,
        queryableP99Ms: run.queryableP99Ms,
        rawCopyRowsPerSec,
        ratioVsCopy: Math.round((loadedPerSec / rawCopyRowsPerSec) * 100) / 100,
        lost: counts.lost,
        duplicated: counts.duplicated,
        crashLost: crashCounts.lost,
        crashDuplicated: crashCounts.duplicated,
      };
    } finally {
      generator.stop();
      processor.kill();
      await collector.close();
      await deleteStreams([streamName]);
      await database.drop();
      await rm(gcDir, { recursive: true, force: true });
    }
  },
};

export default ingest;

/** What the core sampler watches besides the senders, nats-server and PostgreSQL. */
interface Observed {
  collectorPid: number;
  processorPid: () => number;
  /** The collector's GC pauses (gc-timeline.preload.ts). */
  gcTimeline: string;
}

interface Run {
  sent: SendResult;
  /** The core sampler's summary (core-sampler.ts), as progress lines; empty with BENCH_INGEST_OBSERVE=0. */
  cores: string[];
  accepted: number;
  /** From the first send until every accepted row was visible. */
  loadedMs: number;
  queryableP99Ms: number;
}

/** Sends for SECONDS, times the probes until visible, and waits until every accepted row is stored. */
async function sendAndDrain(
  database: BenchDatabase,
  generator: Generator,
  url: string,
  prefix: string,
  observed: Observed,
  afterSending: () => void = () => undefined,
): Promise<Run> {
  const pending = new Map<string, number>();
  const queryable: number[] = [];
  generator.onProbe = (id, at) => pending.set(id, at);
  const sending = { isDone: false };
  const watch = (async () => {
    while (!sending.isDone || pending.size > 0) {
      await sleep(PROBE_POLL_MS);
      if (pending.size === 0) continue;
      const { rows } = await sql<{ id: string }>`
        SELECT id FROM interactions WHERE source_id = ${BUILTIN_SOURCE_ID} AND id = ANY(${[...pending.keys()]}::text[])`.execute(
        database.db,
      );
      const seenAt = Date.now();
      for (const { id } of rows) {
        queryable.push(seenAt - (pending.get(id) ?? seenAt));
        pending.delete(id);
      }
    }
  })();
  const sampler = OBSERVE ? await startSampling(database, generator, observed) : undefined;
  const tcpBefore = tcpCounters();
  const startedAt = Date.now();
  const sent = await generator.send({
    cmd: "send",
    url,
    prefix,
    senders: SENDERS,
    durationS: SECONDS,
    probeEvery: PROBE_EVERY,
    ratePerSec: RATE,
  });
  sending.isDone = true;
  const tcpAfter = tcpCounters();
  progress(
    `ingest: the machine's TCP counters while sending: ${Object.entries(tcpAfter)
      .map(([name, value]) => `${name} ${value - (tcpBefore[name] ?? 0)}`)
      .join(", ")}`,
  );
  afterSending();
  const cores = sampler === undefined ? [] : formatTailReport(await sampler.report(sent));
  const accepted = sent.acceptedBatches.reduce((sum, batches) => sum + batches, 0) * ITEMS_PER_BATCH;
  const deadline = Date.now() + DRAIN_DEADLINE_MS;
  for (;;) {
    const stored = await countStored(database, prefix);
    if (stored >= accepted) break;
    if (Date.now() > deadline) throw new Error(`only ${stored} of ${accepted} rows after the drain deadline`);
    await sleep(500);
  }
  const loadedMs = Date.now() - startedAt;
  await watch;
  queryable.sort((a, b) => a - b);
  return {
    sent,
    cores,
    accepted,
    loadedMs,
    queryableP99Ms: queryable[Math.floor(queryable.length * 0.99)] ?? -1,
  };
}

/**
 * Starts the core sampler (core-sampler.ts) on the collector (and its event loop apart), the processor, the
 * senders, nats-server, this process, and PostgreSQL's processes, re-read from pg_stat_activity every second:
 * the processor's sessions, the rest of the bench database's, autovacuum, the other background processes, and
 * the other databases' sessions (other work on the machine).
 */
async function startSampling(
  database: BenchDatabase,
  generator: Generator,
  observed: Observed,
): Promise<{ report(sent: SendResult): Promise<ReturnType<typeof tailReport>> }> {
  const sampler = startCoreSampler(2);
  const databaseName = new URL(database.url).pathname.slice(1);
  const nats = pidsOfCommand("nats-server");
  const refresh = async () => {
    sampler.setGroup("collector", [observed.collectorPid]);
    sampler.setThread("collector loop", observed.collectorPid, observed.collectorPid);
    sampler.setGroup("processor", [observed.processorPid()]);
    sampler.setGroup("senders", [generator.pid]);
    sampler.setGroup("nats", nats);
    sampler.setGroup("bench", [process.pid]);
    const { rows } = await sql<{ pid: number; datname: string | null; app: string; type: string }>`
      SELECT pid, datname, application_name AS app, backend_type AS type FROM pg_stat_activity`.execute(
      database.db,
    );
    const groups: Record<string, number[]> = {
      pgProcessor: [],
      pgBench: [],
      autovacuum: [],
      pgBackground: [],
      pgOther: [],
    };
    for (const row of rows) {
      const group =
        row.app === PROCESSOR_APP_NAME
          ? "pgProcessor"
          : row.type === "autovacuum worker"
            ? "autovacuum"
            : row.type !== "client backend"
              ? "pgBackground"
              : row.datname === databaseName
                ? "pgBench"
                : "pgOther";
      groups[group]?.push(row.pid);
    }
    for (const [name, pids] of Object.entries(groups)) sampler.setGroup(name, pids);
    if (BATCH_NICE > 0) for (const pid of groups.pgProcessor ?? []) setNice(pid, BATCH_NICE);
  };
  await refresh();
  const stop = { now: false };
  const refreshing = (async () => {
    while (!stop.now) {
      await sleep(1_000);
      await refresh().catch(() => undefined);
    }
  })();
  return {
    async report(sent) {
      stop.now = true;
      await refreshing;
      const samples = sampler.stop();
      // The GC observer appends once a second.
      await sleep(1_100);
      const answers: TimedAnswer[] = [];
      for (let i = 0; i + 1 < sent.timeline.length; i += 2)
        answers.push({ dueMs: sent.timeline[i] ?? 0, ms: sent.timeline[i + 1] ?? 0 });
      const pauses: Pause[] = (await readFile(observed.gcTimeline, "utf8").catch(() => ""))
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
          const [startMs = 0, ms = 0] = JSON.parse(line) as number[];
          return { startMs, ms };
        });
      return tailReport(samples, answers, pauses);
    },
  };
}

/** Sets the nice value of a process's threads (Linux keeps one per thread); the bench runs as root. */
function setNice(pid: number, nice: number): void {
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), nice);
  } catch {
    // gone meanwhile
  }
}

async function countStored(database: BenchDatabase, prefix: string): Promise<number> {
  const { rows } = await sql<{ count: number }>`
    SELECT count(*)::int AS count FROM interactions WHERE id LIKE ${`${prefix}-%`}`.execute(database.db);
  return rows[0]?.count ?? 0;
}

/** Rows of the run `prefix` against the accepted ids (sender s: batches 0 .. acceptedBatches[s] - 1). */
async function countRows(
  database: BenchDatabase,
  prefix: string,
  acceptedBatches: number[],
): Promise<{ stored: number; lost: number; duplicated: number }> {
  const { rows } = await sql<{ stored: number; matched: number }>`
    WITH accepted AS (
      SELECT sender - 1 AS sender, batches FROM unnest(${acceptedBatches}::int[]) WITH ORDINALITY AS a(batches, sender)
    ), stored AS (
      SELECT split_part(id, '-', 2)::int AS sender, split_part(id, '-', 3)::int AS batch,
             split_part(id, '-', 4)::int AS item, id
      FROM interactions WHERE id LIKE ${`${prefix}-%`}
    )
    SELECT count(*)::int AS stored,
           count(DISTINCT s.id) FILTER (WHERE s.batch < a.batches AND s.item < ${ITEMS_PER_BATCH})::int AS matched
    FROM stored s LEFT JOIN accepted a USING (sender)`.execute(database.db);
  const { stored = 0, matched = 0 } = rows[0] ?? {};
  const accepted = acceptedBatches.reduce((sum, batches) => sum + batches, 0) * ITEMS_PER_BATCH;
  return { stored, lost: accepted - matched, duplicated: stored - matched };
}

const COLUMNS =
  "source_id, id, type, name, timestamp, received_at, anonymous_id, session_id, event_id, path, referrer, properties, context, ip, device, browser, os";

/** COPYs `count` rows shaped like the senders' (as the processor stores them) into interactions in one statement. */
async function rawCopy(databaseUrl: string, count: number): Promise<{ ms: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const now = new Date().toISOString();
    const properties = JSON.stringify({
      eventId: "00000000-0000-7000-8000-000000000042",
      button: "join",
      position: 3,
    }).replaceAll('"', '""');
    const context = JSON.stringify({
      page: { path: "/events/bench", referrer: "https://search.test/" },
      locale: "en-GB",
      screen: { width: 1280, height: 800 },
    }).replaceAll('"', '""');
    function* lines() {
      for (let n = 0; n < count; n++) {
        const sender = n % SENDERS;
        yield `"${BUILTIN_SOURCE_ID}","r-${sender}-${n}-0","track","clicked","${now}","${now}","visitor-${sender}","session-${sender}","00000000-0000-7000-8000-000000000042","/events/bench","https://search.test/","${properties}","${context}","127.0.0.0","desktop","Chrome","Linux"\n`;
      }
    }
    const startedAt = performance.now();
    await pipeline(
      Readable.from(lines()),
      client.query(copyFrom(`COPY interactions (${COLUMNS}) FROM STDIN WITH (FORMAT csv)`)),
    );
    return { ms: Math.round(performance.now() - startedAt) };
  } finally {
    await client.end();
  }
}

interface Processor {
  pid: number;
  /** SIGKILL. */
  kill(): void;
}

async function startProcessor(env: Record<string, string>): Promise<Processor> {
  const command = [process.execPath, "--import", "tsx", PROCESSOR];
  const [file = "", ...args] = BATCH_NICE > 0 ? ["nice", "-n", String(BATCH_NICE), ...command] : command;
  const child = spawn(file, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("READY\n")) resolve();
    });
    child.once("exit", (code, signal) => {
      reject(new Error(`processor exited (${signal ?? code}) before ready`));
    });
  });
  return {
    pid: child.pid ?? 0,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

interface Generator {
  pid: number;
  send(command: SendCommand): Promise<SendResult>;
  onProbe: (id: string, at: number) => void;
  stop(): void;
}

async function startGenerator(): Promise<Generator> {
  const child: ChildProcess = fork(join(import.meta.dirname, "../ingest-senders.ts"), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let answer: ((message: { result?: SendResult; error?: string }) => void) | undefined;
  const generator: Generator = {
    pid: child.pid ?? 0,
    onProbe: () => undefined,
    send: (command) =>
      new Promise((resolve, reject) => {
        answer = (message) => {
          if (message.result === undefined) reject(new Error(message.error ?? "no result"));
          else resolve(message.result);
        };
        child.send(command);
      }),
    stop: () => child.kill("SIGKILL"),
  };
  await new Promise<void>((resolve) => {
    child.on("message", (message: { ready?: true; probe?: string; at?: number; result?: SendResult }) => {
      if (message.ready === true) resolve();
      else if (message.probe !== undefined) generator.onProbe(message.probe, message.at ?? Date.now());
      else answer?.(message);
    });
  });
  return generator;
}

// SIGUSR2 to the profiled collector (or processor) starts and stops its profile (cpu-profile.preload.ts); a no-op otherwise.
async function profileToggle(subdir = ""): Promise<() => void> {
  if (PROFILE_DIR === undefined) return () => undefined;
  const pid = Number(await readFile(join(PROFILE_DIR, subdir, "server.pid"), "utf8"));
  return () => {
    process.kill(pid, "SIGUSR2");
  };
}
