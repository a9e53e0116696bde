import { existsSync } from "node:fs";
import { join } from "node:path";
import autocannon from "autocannon";
import { apiPodNodeOptions } from "../../../apps/server/test/deploy-files.ts";
import { withAdminClient } from "../../../apps/server/test/admin-sql.ts";
import { measureBaseline } from "../baseline.ts";
import { gcDuring, observeBurst, serverGc } from "../burst-observer.ts";
import { loadAverage, percentile, processCpuMs } from "../burst.ts";
import { startChildServer } from "../child-server.ts";
import { BURST, BURST_FLOOR_SERVER, runBurstFloor, runJoinBurst } from "../joins-burst.ts";
import { createJoinsDatabase, type JoinsDatabase } from "../joins-setup.ts";
import { measureHotRowTps } from "../pgbench.ts";
import { processPeakRssMiB } from "../process-stats.ts";
import type { Scenario } from "../scenario.ts";
import { progress } from "../scenario.ts";
import { startTurnout } from "../turnout-server.ts";

/*
 * joins (issue 4): (a) 1,500 distinct users join an event of capacity 100 and waitlist 100 at the same
 * moment; (b) a storm of distinct users joining one event with a large capacity; (c) at the same client
 * count, pgbench's durable updates of one row and a bare Fastify route. Turnout runs as `npm start` would
 * in cluster mode with ROLES=api (no outbox relay competing for the two cores), on a scratch database.
 *
 * The burst is sent three times, each on its own event: to a process that has answered nothing yet
 * (`burstFirstP95Ms`), right after that (`burstSecondP95Ms`), and after the storm (`burstP95Ms`, the target's
 * figure): a process in service meets a flash crowd with its join path compiled, and V8 takes several
 * bursts to finish compiling it (ADR 0005: the server's CPU for one burst falls from 570 to 180 ms over the
 * first five), so the second burst still measures compilation as much as the crowd.
 */

/*
 * Diagnostics (ADR 0005, 2026-12-06 evening), off by default: BENCH_CPU_PROFILE_DIR profiles the server's
 * CPU over the middle of the storm (cpu-profile.preload.ts); BENCH_HEAP_DIR with BENCH_HEAP_MODE=sampling
 * records its allocations over the same stretch, and with BENCH_HEAP_MODE=snapshot (the default) writes a
 * heap snapshot after the storm and another after the burst in service (heap.preload.ts). Each perturbs
 * what it measures: the storm's rate and the burst's figures of such a run are not results.
 */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR;
const HEAP_DIR = process.env.BENCH_HEAP_DIR;
const HEAP_MODE = process.env.BENCH_HEAP_MODE ?? "snapshot";
const PRELOAD =
  CPU_PROFILE_DIR !== undefined
    ? join(import.meta.dirname, "../cpu-profile.preload.ts")
    : HEAP_DIR !== undefined
      ? join(import.meta.dirname, "../heap.preload.ts")
      : undefined;
const profilesStorm = CPU_PROFILE_DIR !== undefined || (HEAP_DIR !== undefined && HEAP_MODE === "sampling");
const snapshotsHeap = CPU_PROFILE_DIR === undefined && HEAP_DIR !== undefined && HEAP_MODE !== "sampling";

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
// Every storm join needs its own user; more than this machine admits in the storm, so none repeats.
const STORM_USERS = 300_000;
// pgbench needs one PostgreSQL connection per client: stay under max_connections with the server's pool.
const CONNECTION_HEADROOM = 20;

const joins: Scenario = {
  async run({ durationS, connections }) {
    const stormS = 2 * durationS;
    const clients = Math.min(connections, (await maxConnections()) - CONNECTION_HEADROOM);
    const loadBefore = loadAverage();
    progress(`joins: making ${STORM_USERS + 3 * BURST.users} users and their tokens`);
    const database = await createJoinsDatabase(ADMIN_URL, STORM_USERS + 3 * BURST.users);
    const env: Record<string, string> =
      PRELOAD === undefined ? {} : { NODE_OPTIONS: `--import tsx --import ${PRELOAD}` };
    const server = await startTurnout(database.url, env).catch(async (error: unknown) => {
      await database.drop();
      throw error;
    });
    try {
      const burstTokens = (index: number) =>
        database.tokens.slice(index * BURST.users, (index + 1) * BURST.users);
      const stormTokens = database.tokens.slice(3 * BURST.users);
      const cold = await runJoinBurst(server.baseUrl, database, burstTokens(0));
      const second = await runJoinBurst(server.baseUrl, database, burstTokens(1));
      const gcBeforeStorm = await serverGc(server.baseUrl);
      const stormCpuBefore = processCpuMs(server.pid);
      // The profilers, when asked for, record the storm from its first quarter to its last.
      const signal = () => process.kill(server.pid, "SIGUSR2");
      const timers = profilesStorm
        ? [setTimeout(signal, stormS * 250), setTimeout(signal, stormS * 750)]
        : [];
      // Who used the two cores during the storm: the server, the load generator, PostgreSQL, idle.
      const stormObserver = await observeBurst(ADMIN_URL, new URL(database.url).pathname.slice(1), server, {
        sampleActivity: false,
      });
      await stormObserver.before();
      const admissionBefore = await database.admissionCalls();
      const storm = await runStorm(server.baseUrl, database, stormTokens, { clients, durationS: stormS });
      await stormObserver.after();
      const admission = await admissionDuring(database, admissionBefore, storm.answered, stormS);
      const stormCpu = (await stormObserver.result()).cpuMs;
      const perStormJoin = (ms: number) => Math.round((ms * 1000) / Math.max(1, storm.answered));
      for (const timer of timers) clearTimeout(timer);
      const gcAfterStorm = await serverGc(server.baseUrl);
      const stormGc = gcDuring(gcBeforeStorm, gcAfterStorm);
      const stormCpuUsPerJoin = Math.round(
        ((processCpuMs(server.pid) - stormCpuBefore) * 1000) / Math.max(1, storm.answered),
      );
      progress(`joins: storm ${storm.joinsPerSec}/s, p95 ${storm.p95Ms} ms, ${storm.errors} errors`);
      progress(
        `joins: storm's admit_joins calls: ${admission.callsPerSec}/s of ${admission.joinsPerCall} joins, ` +
          `${admission.msPerCall} ms each in PostgreSQL; the event's row busy ${admission.rowBusyShare} of the time`,
      );
      if (snapshotsHeap) await snapshot(signal, 1);
      const observer = await observeBurst(ADMIN_URL, new URL(database.url).pathname.slice(1), server);
      const burst = await runJoinBurst(server.baseUrl, database, burstTokens(2), observer);
      const during = await observer.result();
      const gcBeforeBurst = describeGc(gcDuring(gcAfterStorm, during.serverGcBefore));
      if (snapshotsHeap) await snapshot(signal, 2);
      const { cpuMs: burstCpuMs, wallMs: burstWallMs, activity: burstPgActivity } = during;
      progress(
        `joins: during the burst in service (${burstWallMs} ms), CPU ms ${JSON.stringify(burstCpuMs)}`,
      );
      progress(`joins: other processes during it: ${during.otherTop}`);
      progress(`joins: PostgreSQL during it: ${burstPgActivity}; writes ${JSON.stringify(during.writes)}`);
      progress(`joins: autovacuum after the storm: ${await database.describeAutovacuum()}`);
      // What autovacuum will do to these tables soon after a storm, and might do during a burst: done here,
      // once the burst is over, to measure it.
      const vacuum = await database.vacuumJoinTables();
      progress(
        `joins: vacuum and analyze of the storm's rows took ${vacuum.cpuMs} ms CPU, ${vacuum.wallMs} ms: ` +
          JSON.stringify(vacuum.steps),
      );
      const serverPeakRssMiB = processPeakRssMiB(server.pid);
      progress(
        `joins: bursts exact=${cold.isExact && second.isExact && burst.isExact}, p95 ${burst.p95Ms} ms in ` +
          `service (first ${cold.p95Ms} ms, second ${second.p95Ms} ms)`,
      );
      await server.stop();
      const burstFloorP95Ms = await measureBurstFloor();
      const pgbenchHotRowTps = await measureHotRowTps(database.url, { clients, durationS });
      progress(`joins: pgbench hot row ${pgbenchHotRowTps} tps with ${clients} clients`);
      const baseline = await measureBaseline({ durationS, connections: clients });
      return {
        scenario: "joins",
        burstExact: burst.isExact && cold.isExact && second.isExact,
        burstP95Ms: burst.p95Ms,
        burstFirstP95Ms: cold.p95Ms,
        burstSecondP95Ms: second.p95Ms,
        burstFloorP95Ms,
        burstServerCpuMs: burstCpuMs.server,
        burstServerGcMs: during.serverGcMs,
        burstServerGcByKind: describeGc(during.serverGcByKind),
        serverGcBetweenStormAndBurst: gcBeforeBurst,
        stormServerGcByKind: describeGc(stormGc),
        serverHeapAtBurstMiB: Object.entries(during.serverHeapMiB)
          .filter(([, mib]) => mib > 0)
          .map(([space, mib]) => `${space} ${mib}`)
          .join(", "),
        burstWallMs,
        ...Object.fromEntries(
          Object.entries(burstCpuMs)
            .filter(([group]) => group !== "server")
            .map(([group, ms]) => [`burstCpu${capitalised(group)}Ms`, ms]),
        ),
        burstPgActivity,
        burstWalKiB: Math.round(during.writes.walBytes / 1024),
        burstCheckpoints: during.writes.checkpoints,
        stormVacuumCpuMs: vacuum.cpuMs,
        joinsPerSec: storm.joinsPerSec,
        stormCpuUsPerJoin,
        // µs per storm answer of each group's CPU, the idle cores' included (ADR 0005, 2026-12-06 evening).
        stormMachineUsPerJoin: Object.entries(stormCpu)
          .map(([group, ms]) => `${group} ${perStormJoin(ms)}`)
          .join(", "),
        serverPeakRssMiB,
        serverNodeOptions: process.env.BENCH_SERVER_NODE_OPTIONS ?? apiPodNodeOptions(),
        p95Ms: storm.p95Ms,
        errors: storm.errors + burst.errors + second.errors + cold.errors,
        stormExact: storm.isExact,
        stormAdmitCallsPerSec: admission.callsPerSec,
        stormAdmitJoinsPerCall: admission.joinsPerCall,
        stormAdmitMsPerCall: admission.msPerCall,
        stormRowBusyShare: admission.rowBusyShare,
        pgbenchHotRowTps,
        baselineRps: baseline.rps,
        ratioVsHotRow: round(storm.joinsPerSec / pgbenchHotRowTps),
        ratioVsBaseline: round(storm.joinsPerSec / baseline.rps),
        connections: clients,
        durationS: stormS,
        loadBefore,
        loadAfter: loadAverage(),
      };
    } finally {
      await server.close();
      await database.drop();
    }
  },
};

export default joins;

// The burst's floor: a bare Fastify route answering the same burst, second of two runs (the first warms it).
async function measureBurstFloor(): Promise<number> {
  const floorServer = await startChildServer(BURST_FLOOR_SERVER);
  try {
    await runBurstFloor(floorServer.url);
    return await runBurstFloor(floorServer.url);
  } finally {
    await floorServer.stop();
  }
}

/** Distinct users join one event of large capacity for `durationS`; every answer must be a new seat. */
export async function runStorm(
  baseUrl: string,
  database: JoinsDatabase,
  tokens: string[],
  { clients, durationS }: { clients: number; durationS: number },
) {
  const eventId = await database.createEvent({ capacity: 1_000_000, waitlistLimit: 0 });
  progress(`joins: storm of distinct users, ${clients} connections for ${durationS} s`);
  let next = 0;
  const latencies: number[] = [];
  let created = 0;
  const options: autocannon.Options = {
    url: `${baseUrl}/api/events/${eventId}/join`,
    method: "POST",
    connections: clients,
    duration: durationS,
    requests: [
      {
        setupRequest: (request) => {
          const token = tokens[next++];
          if (token === undefined) throw new Error(`the storm used up its ${tokens.length} users`);
          return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
        },
      },
    ],
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error: unknown, finished: autocannon.Result) => {
      if (error === null || error === undefined) resolve(finished);
      else reject(error instanceof Error ? error : new Error("autocannon failed"));
    });
    instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
      latencies.push(responseTimeMs);
      if (statusCode === 201) created++;
    });
  });
  const check = await database.readEvent(eventId);
  // Joins still in flight when the storm stopped are decided without anyone listening: the rows may
  // outnumber the 201s seen, never the requests sent, and the counter must equal the rows.
  const isExact =
    check.confirmedCount === check.rows &&
    check.confirmed.length === check.rows &&
    created <= check.rows &&
    check.rows <= next;
  progress(
    `joins: storm sent ${next}, ${created} x 201 of ${latencies.length} answers; ` +
      `${check.rows} rows, counter ${check.confirmedCount}`,
  );
  return {
    answered: latencies.length,
    joinsPerSec: Math.round(latencies.length / durationS),
    p95Ms: percentile(latencies, 0.95),
    errors: result.errors + (latencies.length - created),
    isExact,
  };
}

/**
 * The storm's batches as PostgreSQL saw them: calls of admit_joins_v3 a second, joins a call, and the time a
 * call spent in PostgreSQL (its wait for the row lock included): with one server, the share of the storm the
 * event's row was locked by a batch (ADR 0005, 2026-12-06 night). Read a second after the storm: a backend
 * reports its statistics at most once a second.
 */
async function admissionDuring(
  database: JoinsDatabase,
  before: { calls: number; ms: number },
  answered: number,
  stormS: number,
): Promise<{ callsPerSec: number; joinsPerCall: number; msPerCall: number; rowBusyShare: number }> {
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const after = await database.admissionCalls();
  const calls = Math.max(1, after.calls - before.calls);
  return {
    callsPerSec: Math.round(calls / stormS),
    joinsPerCall: round(answered / calls),
    msPerCall: round((after.ms - before.ms) / calls),
    rowBusyShare: round((after.ms - before.ms) / (stormS * 1000)),
  };
}

// Asks the server for heap snapshot n (heap.preload.ts) and waits until its file is written.
async function snapshot(signal: () => void, n: number): Promise<void> {
  signal();
  const file = join(HEAP_DIR ?? "", `heap-${n}.heapsnapshot`);
  while (!existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 200));
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  progress(`joins: wrote ${file}`);
}

function describeGc(byKind: Record<string, { count: number; ms: number }>): string {
  return Object.entries(byKind)
    .map(([kind, { count, ms }]) => `${kind} ${count}x ${ms} ms`)
    .join(", ");
}

function capitalised(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

async function maxConnections(): Promise<number> {
  const result = await withAdminClient(ADMIN_URL, (client) =>
    client.query<{ max_connections: string }>("SHOW max_connections"),
  );
  return Number(result.rows[0]?.max_connections ?? 100);
}
