import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { createDataDir, findFreePort } from "../../e2e/support/server-process.ts";
import { apiPodNodeOptions } from "../../apps/server/test/deploy-files.ts";
import { loadAverage, processCpuMs } from "./burst.ts";
import { BURST, runJoinBurst } from "./joins-burst.ts";
import { createJoinsDatabase } from "./joins-setup.ts";
import { runStorm } from "./scenarios/joins.bench.ts";
import { BENCH_TOKEN_SECRET } from "./turnout-server.ts";

/*
 * `flock /tmp/turnout-heavy.lock node --import tsx bench/src/joins-ab.ts ROOT_A ROOT_B [ROUNDS] [STORM_S]`:
 * compares the join path of two checkouts of this repository (ADR 0005, 2026-12-06 evening). One server of
 * each (ROLES=api, the api pods' NODE_OPTIONS) runs on one scratch database; in each round, A then B, then B
 * then A, each takes a storm of distinct users on a new event (80 connections, STORM_S seconds, default 5)
 * and then a burst of 1,500 on another. Printed per run: the server's CPU per storm answer (µs, from /proc),
 * the storm's rate, the burst's p95 and the server's CPU for it. Other processes' load moves the rates; the
 * CPU per answer is the figure to compare.
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const [rootA, rootB, roundsArg, stormArg] = process.argv.slice(2);
if (rootA === undefined || rootB === undefined)
  throw new Error("usage: joins-ab.ts ROOT_A ROOT_B [ROUNDS] [STORM_S]");
const rounds = Number(roundsArg ?? 2);
const stormS = Number(stormArg ?? 5);
const STORM_USERS_PER_RUN = stormS * 12_000;

const runs = 2 * rounds;
const database = await createJoinsDatabase(ADMIN_URL, (runs + 2) * (STORM_USERS_PER_RUN + BURST.users));
let nextToken = 0;
const take = (count: number) => database.tokens.slice(nextToken, (nextToken += count));
const servers = { A: await start(rootA), B: await start(rootB) };
try {
  // Warm each: one storm and one burst before anything counts.
  for (const server of Object.values(servers)) await measure(server);
  const results: Record<"A" | "B", string[]> = { A: [], B: [] };
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const)) {
      const line = `${name} ${await measure(servers[name])}`;
      results[name].push(line);
      console.log(line);
    }
  }
} finally {
  for (const server of Object.values(servers)) await server.stop();
  await database.drop();
}

async function measure(server: Server): Promise<string> {
  const load = loadAverage();
  const before = processCpuMs(server.pid);
  const storm = await runStorm(server.baseUrl, database, take(STORM_USERS_PER_RUN), {
    clients: 80,
    durationS: stormS,
  });
  const stormUs = Math.round(((processCpuMs(server.pid) - before) * 1000) / Math.max(1, storm.answered));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  let burstBefore = 0;
  let burstCpuMs = 0;
  const burst = await runJoinBurst(server.baseUrl, database, take(BURST.users), {
    before() {
      burstBefore = processCpuMs(server.pid);
    },
    after() {
      burstCpuMs = processCpuMs(server.pid) - burstBefore;
    },
  });
  return (
    `storm ${stormUs} µs/join ${storm.joinsPerSec}/s exact=${storm.isExact}; burst p95 ${burst.p95Ms} ms ` +
    `cpu ${burstCpuMs} ms exact=${burst.isExact}; load ${load}`
  );
}

interface Server {
  baseUrl: string;
  pid: number;
  stop(): Promise<void>;
}

async function start(root: string): Promise<Server> {
  const dataDir = await createDataDir("ab");
  const port = await findFreePort();
  const child = spawn(process.execPath, ["--import", "tsx", "apps/server/src/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      ROLES: "api",
      LOG_LEVEL: "warn",
      TOKEN_SECRET: BENCH_TOKEN_SECRET,
      TICKET_SECRET: BENCH_TOKEN_SECRET,
      URL_SIGNING_SECRET: BENCH_TOKEN_SECRET,
      NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS ?? apiPodNodeOptions(),
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 200) {
    if (
      await fetch(`${baseUrl}/readyz`).then(
        (response) => response.ok,
        () => false,
      )
    )
      break;
    if (waited > 30_000) throw new Error(`server in ${root} not ready`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    baseUrl,
    pid: child.pid ?? 0,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("close", resolve));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
