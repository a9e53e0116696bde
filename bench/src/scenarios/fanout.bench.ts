import { fork, type ChildProcess } from "node:child_process";
import { BENCH_NATS_URL, deleteStreams } from "../bench-nats.ts";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Scenario } from "../scenario.ts";
import { progress } from "../scenario.ts";
import { createBenchDatabase } from "../bench-database.ts";
import type { GcSample } from "../fanout-gc.preload.ts";
import { startTurnout, type TurnoutServer } from "../turnout-server.ts";

/*
 * fanout (issue 11): CLIENTS WebSocket clients (default 10,000) watch one event channel; edits of the event go the
 * real path (HTTP PATCH -> outbox -> relay -> bus -> sequencer -> gateway) and every client times each from the
 * edit's commit (the event's updatedAt) to receipt. The load generator runs in its own process.
 *   1. One gateway process (api,realtime,worker on the in-process bus). Memory per connection: the gateway's
 *      RSS before and after connecting, each sampled after a full collection (fanout-gc.preload.ts), and also
 *      without one (rawRssPerConnKiB).
 *   2. Latency: UPDATES edits at RATE a second (default 20 at 5/s, which offers 50,000 messages/s to 10,000
 *      clients): p50Ms, p99Ms.
 *   3. Throughput: BURST edits back to back; deliveredPerSec = their messages / (last receipt - first commit).
 *      Over 2 and 3 the gateway's collector is watched (fanout-gc.preload.ts): fanoutGcCount, fanoutGcPauseMs
 *      (main-thread pauses), allocatedBytesPerDelivery and writeSyscallsPerDelivery, figures that do not depend
 *      on the machine's load.
 *   4. Storm: every connection dropped, all reconnect and resume at once; one more edit must reach all of them.
 *      lost and duplicates count over every edit of 2-4.
 *   5. Two gateway processes behind NATS (BENCH_NATS_URL, on a stream of their own): the clients
 *      split over an api,realtime,worker process and a realtime-only one; the same paced edits: twoNodeP99Ms.
 * Start it with a raised open-file limit: `ulimit -n 20000; npm run bench -- fanout`.
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const CLIENTS = Number(process.env.BENCH_FANOUT_CLIENTS ?? 10_000);
const UPDATES = Number(process.env.BENCH_FANOUT_UPDATES ?? 20);
const RATE = Number(process.env.BENCH_FANOUT_RATE ?? 5);
const BURST = Number(process.env.BENCH_FANOUT_BURST ?? 20);
const GC_PRELOAD = join(import.meta.dirname, "../fanout-gc.preload.ts");
const PROFILE_PRELOAD = join(import.meta.dirname, "../cpu-profile.preload.ts");
// With BENCH_CPU_PROFILE_DIR, the single gateway is profiled over the paced and burst phases
// (cpu-profile.preload.ts; read it with cpu-profile-summary.ts).
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR;
// V8 flags for the single gateway only, to measure one (e.g. `--max-semi-space-size=16`) without making it a default.
const GATEWAY_FLAGS = process.env.BENCH_FANOUT_GATEWAY_FLAGS ?? "";

const SERVER_ENV = {
  RATE_LIMIT_REQUESTS: "0",
  REALTIME_CONNECTIONS_PER_MINUTE: "0",
  OUTBOX_POLL_MS: "100",
};

const fanout: Scenario = {
  async run() {
    const database = await createBenchDatabase(ADMIN_URL, () => Promise.resolve());
    const twoNodeDatabase = await createBenchDatabase(ADMIN_URL, () => Promise.resolve());
    const gcDir = mkdtempSync(join(tmpdir(), "turnout-fanout-"));
    const servers: TurnoutServer[] = [];
    const twoNodeEnv = twoNodeSettings();
    const generator = await startGenerator();
    try {
      // The two-node processes start first, while the machine is quiet, and idle until their turn.
      const twoNodes = await startTwoNodes(twoNodeDatabase.url, twoNodeEnv, servers);
      const single = await startTurnout(database.url, {
        ...SERVER_ENV,
        ROLES: "api,realtime,worker",
        BENCH_GC_DIR: gcDir,
        NODE_OPTIONS: `${GATEWAY_FLAGS} --expose-gc --import tsx --import ${GC_PRELOAD}${
          PROFILE_DIR === undefined ? "" : ` --import ${PROFILE_PRELOAD}`
        }`.trim(),
      });
      servers.push(single);
      const api = await apiOf(single.baseUrl);
      const channel = `event:${api.eventId}`;
      const rawBefore = await residentBytes(single.baseUrl);
      const before = await collectedMemory(gcDir);
      progress(`fanout: connecting ${CLIENTS} clients`);
      const connect = (await generator.ask({
        cmd: "connect",
        urls: [wsUrlOf(single)],
        channel,
        clients: CLIENTS,
      })) as { connected: number; ms: number };
      progress(`fanout: ${connect.connected} connected in ${connect.ms} ms`);
      const rawAfter = await residentBytes(single.baseUrl);
      const after = await collectedMemory(gcDir);
      const perConnection = (bytes: number) => Math.round((10 * bytes) / 1024 / connect.connected) / 10;

      const toggleProfile = (): void => {
        if (PROFILE_DIR !== undefined)
          process.kill(Number(readFileSync(join(PROFILE_DIR, "server.pid"), "utf8")), "SIGUSR2");
      };
      toggleProfile();
      const paced = await pacedEdits(generator, api, "Paced", connect.connected);
      progress(`fanout: paced p50 ${paced.p50Ms} ms, p99 ${paced.p99Ms} ms`);

      await generator.ask({ cmd: "phase" });
      const firstCommit = Date.parse(await api.edit("Burst 1"));
      for (let i = 2; i <= BURST; i++) await api.edit(`Burst ${i}`);
      const burst = await waitForAll(generator, connect.connected * (UPDATES + BURST));
      const deliveredPerSec = Math.round(
        (connect.connected * BURST) / ((burst.lastReceiptAt - firstCommit) / 1000),
      );
      progress(`fanout: burst ${deliveredPerSec} messages/s, p99 ${burst.p99Ms} ms`);
      toggleProfile();
      // What the collector did in the gateway from the sample after connecting to here: the paced and burst phases.
      const { gc, writeSyscalls } = await collectedMemory(gcDir);
      const deliveries = connect.connected * (UPDATES + BURST);
      progress(`fanout: garbage collection during the fan-out ${JSON.stringify(gc)}`);

      const storm = (await generator.ask({ cmd: "storm" })) as { ms: number; resubscribed: number };
      progress(`fanout: storm ${storm.ms} ms, ${storm.resubscribed} resubscribed`);
      await api.edit("After the storm");
      const final = await waitForAll(generator, connect.connected * (UPDATES + BURST + 1));
      await generator.ask({ cmd: "close" });
      await single.stop();

      const twoNode = await runTwoNodes(twoNodes, generator);
      return {
        scenario: "fanout",
        clients: connect.connected,
        p50Ms: paced.p50Ms ?? -1,
        p99Ms: paced.p99Ms ?? -1,
        deliveredPerSec,
        lost: connect.connected * (UPDATES + BURST + 1) - final.received,
        duplicates: final.duplicates,
        rssPerConnKiB: perConnection(after.rss - before.rss),
        twoNodeP99Ms: twoNode.p99Ms ?? -1,
        reconnectStormSec: storm.ms / 1000,
        heapPerConnKiB: perConnection(after.heapUsed - before.heapUsed),
        rawRssPerConnKiB: perConnection(rawAfter - rawBefore),
        burstP99Ms: burst.p99Ms ?? -1,
        fanoutGcCount: Object.values(gc.collections).reduce((sum, count) => sum + count, 0),
        fanoutGcPauseMs: gc.pauseMs,
        fanoutGcMaxPauseMs: gc.maxPauseMs,
        allocatedBytesPerDelivery: Math.round(gc.allocatedBytes / deliveries),
        writeSyscallsPerDelivery:
          Math.round((100 * (writeSyscalls - after.writeSyscalls)) / deliveries) / 100,
        stormResubscribed: storm.resubscribed,
        twoNodeLost: twoNode.lost,
        twoNodeDuplicates: twoNode.duplicates,
        connectSec: connect.ms / 1000,
        pacedUpdates: UPDATES,
        pacedPerSec: RATE,
        burstUpdates: BURST,
      };
    } finally {
      generator.stop();
      for (const server of servers) await server.close();
      await deleteStreams([twoNodeEnv.DOMAIN_STREAM, twoNodeEnv.INTERACTIONS_STREAM]).catch(
        (error: unknown) => {
          progress(`fanout: streams of the two-node run not deleted: ${String(error)}`);
        },
      );
      rmSync(gcDir, { recursive: true, force: true });
      await database.drop();
      await twoNodeDatabase.drop();
    }
  },
};

export default fanout;

// Two gateway processes on one database behind NATS, each on a stream and subjects of this run alone.
function twoNodeSettings() {
  const tag = randomUUID().replaceAll("-", "").slice(0, 12);
  return {
    ...SERVER_ENV,
    NATS_URL: BENCH_NATS_URL,
    DOMAIN_STREAM: `FANOUT${tag}`,
    DOMAIN_SUBJECT_PREFIX: `fanout_domain_${tag}`,
    INTERACTIONS_STREAM: `fanout-interactions-${tag}`,
    REALTIME_SUBJECT_PREFIX: `fanout_${tag}`,
  };
}

async function startTwoNodes(
  databaseUrl: string,
  env: Record<string, string>,
  servers: TurnoutServer[],
): Promise<[TurnoutServer, TurnoutServer]> {
  const first = await startTurnout(databaseUrl, { ...env, ROLES: "api,realtime,worker" });
  servers.push(first);
  const second = await startTurnout(databaseUrl, { ...env, ROLES: "realtime" });
  servers.push(second);
  return [first, second];
}

async function runTwoNodes(
  [first, second]: [TurnoutServer, TurnoutServer],
  generator: Generator,
): Promise<{ p99Ms: number | null; lost: number; duplicates: number }> {
  const api = await apiOf(first.baseUrl);
  const connect = (await generator.ask({
    cmd: "connect",
    urls: [wsUrlOf(first), wsUrlOf(second)],
    channel: `event:${api.eventId}`,
    clients: CLIENTS,
  })) as { connected: number; ms: number };
  progress(`fanout: two nodes, ${connect.connected} connected in ${connect.ms} ms`);
  const paced = await pacedEdits(generator, api, "Two nodes", connect.connected);
  progress(`fanout: two nodes p99 ${paced.p99Ms} ms`);
  await generator.ask({ cmd: "close" });
  return {
    p99Ms: paced.p99Ms,
    lost: connect.connected * UPDATES - paced.received,
    duplicates: paced.duplicates,
  };
}

// UPDATES edits, one every 1/RATE s; waits until every client has them (or 30 s passed).
async function pacedEdits(generator: Generator, api: Api, title: string, clients: number): Promise<Report> {
  await generator.ask({ cmd: "phase" });
  const startedAt = Date.now();
  for (let i = 1; i <= UPDATES; i++) {
    await sleep(startedAt + ((i - 1) * 1000) / RATE - Date.now());
    await api.edit(`${title} ${i}`);
  }
  return waitForAll(generator, clients * UPDATES);
}

interface Report {
  received: number;
  duplicates: number;
  p50Ms: number | null;
  p99Ms: number | null;
  lastReceiptAt: number;
}

// Polls the generator until `expected` updates arrived in all or 30 s passed.
async function waitForAll(generator: Generator, expected: number): Promise<Report> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const report = (await generator.ask({ cmd: "report" })) as Report;
    if (report.received >= expected || Date.now() > deadline) return report;
    await sleep(100);
  }
}

interface Generator {
  ask(command: object): Promise<unknown>;
  stop(): void;
}

async function startGenerator(): Promise<Generator> {
  const child: ChildProcess = fork(join(import.meta.dirname, "../fanout-clients.ts"), [], {
    execArgv: ["--import", "tsx", "--max-old-space-size=4096"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await new Promise<void>((resolve) =>
    child.once("message", () => {
      resolve();
    }),
  );
  return {
    ask: (command) =>
      new Promise((resolve) => {
        child.once("message", resolve);
        child.send(command);
      }),
    stop: () => child.kill("SIGKILL"),
  };
}

interface Api {
  eventId: string;
  /** Renames the event; resolves with its updatedAt (the commit time the clients measure from). */
  edit(title: string): Promise<string>;
}

// An organizer and a published event on the server at `baseUrl`.
async function apiOf(baseUrl: string): Promise<Api> {
  const call = async (token: string | null, method: string, path: string, body?: object) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  };
  const { accessToken: token } = (await call(null, "POST", "/api/auth/register", {
    email: `organizer-${randomUUID()}@bench.test`,
    name: "Bench Organizer",
    password: "bench password 123",
  })) as { accessToken: string };
  const startsAt = new Date(Date.now() + 86_400_000);
  const { id } = (await call(token, "POST", "/api/events", {
    title: "Fanout",
    startsAt: startsAt.toISOString(),
    endsAt: new Date(startsAt.getTime() + 7_200_000).toISOString(),
    timezone: "Europe/Berlin",
    venue: { name: "Hall", address: "Street 1" },
    category: "tech",
    capacity: 100,
  })) as { id: string };
  await call(token, "POST", `/api/events/${id}/publish`);
  return {
    eventId: id,
    edit: async (title) => {
      const event = (await call(token, "PATCH", `/api/events/${id}`, { title })) as { updatedAt: string };
      return event.updatedAt;
    },
  };
}

function wsUrlOf(server: TurnoutServer): string {
  return `${server.baseUrl.replace("http", "ws")}/api/realtime`;
}

async function residentBytes(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split("\n").find((entry) => entry.startsWith("process_resident_memory_bytes "));
  return Number(line?.split(" ")[1] ?? 0);
}

// The gateway's memory right after a full collection (fanout-gc.preload.ts).
async function collectedMemory(dir: string): Promise<GcSample> {
  const file = join(dir, "memory.json");
  rmSync(file, { force: true });
  process.kill(Number(readFileSync(join(dir, "server.pid"), "utf8")), "SIGWINCH");
  const deadline = Date.now() + 30_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error("the gateway wrote no memory sample");
    await sleep(50);
  }
  await sleep(50);
  return JSON.parse(readFileSync(file, "utf8")) as GcSample;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
