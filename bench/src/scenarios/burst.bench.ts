import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadAverage, percentile, processCpuMs } from "../burst.ts";
import { startChildServer } from "../child-server.ts";
import { BURST, BURST_FLOOR_SERVER, runBurstFloor, runJoinBurst } from "../joins-burst.ts";
import { createJoinsDatabase } from "../joins-setup.ts";
import { progress, type Scenario } from "../scenario.ts";
import { startTurnout } from "../turnout-server.ts";

/*
 * burst (issue 10): the joins scenario's 1,500-at-once burst alone, repeated, each round beside its floor:
 * the same 1,500 requests on the same kind of open connections, answered by a bare Fastify route with a
 * constant. The machine is shared and its load changes by the minute, so the two alternate and every
 * round records the load average. The first round meets a cold process and is reported apart; the result
 * is the median p95 of the others. Each round also records the CPU time each server process spent on its
 * burst (serverCpuMs, floorCpuMs): what the latency costs on an idle machine, and barely moved by other
 * processes' load, so it compares two versions on a busy one. BENCH_BURST_ROUNDS sets the rounds (default 5); with BENCH_CPU_PROFILE_DIR
 * the Turnout server writes a V8 CPU profile and its own timeline of each round's burst there
 * (cpu-profile.preload.ts), to read with cpu-profile-summary.ts.
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const PROFILE_PRELOAD = join(import.meta.dirname, "../cpu-profile.preload.ts");

const burst: Scenario = {
  async run() {
    const rounds = readRounds(process.env.BENCH_BURST_ROUNDS);
    if (rounds < 2) throw new Error("BENCH_BURST_ROUNDS must be at least 2: the first round is the cold one");
    const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
    progress(`burst: making ${rounds * BURST.users} users and their tokens`);
    const database = await createJoinsDatabase(ADMIN_URL, rounds * BURST.users);
    const env: Record<string, string> =
      profileDir === undefined ? {} : { NODE_OPTIONS: `--import tsx --import ${PROFILE_PRELOAD}` };
    const server = await startTurnout(database.url, env).catch(async (error: unknown) => {
      await database.drop();
      throw error;
    });
    const floorServer = await startChildServer(BURST_FLOOR_SERVER);
    try {
      const turnout: number[] = [];
      const floor: number[] = [];
      const loads: number[] = [];
      const cpuMs: number[] = [];
      const floorCpuMs: number[] = [];
      let isExact = true;
      let errors = 0;
      for (let round = 0; round < rounds; round++) {
        loads.push(loadAverage());
        const floorCpuBefore = processCpuMs(floorServer.pid);
        floor.push(await runBurstFloor(floorServer.url));
        floorCpuMs.push(processCpuMs(floorServer.pid) - floorCpuBefore);
        const tokens = database.tokens.slice(round * BURST.users, (round + 1) * BURST.users);
        const toggleProfile = await profileToggle(profileDir);
        let cpuBefore = 0;
        const result = await runJoinBurst(server.baseUrl, database, tokens, {
          before() {
            toggleProfile();
            cpuBefore = processCpuMs(server.pid);
          },
          after() {
            cpuMs.push(processCpuMs(server.pid) - cpuBefore);
            toggleProfile();
          },
        });
        turnout.push(result.p95Ms);
        isExact &&= result.isExact;
        errors += result.errors;
        progress(
          `burst: round ${round + 1}: p95 ${result.p95Ms} ms (floor ${floor.at(-1)} ms), server CPU ` +
            `${cpuMs.at(-1)} ms (floor ${floorCpuMs.at(-1)} ms), load ${loads.at(-1)}`,
        );
      }
      await server.stop();
      return {
        scenario: "burst",
        burstExact: isExact,
        errors,
        burstP95Ms: percentile(turnout.slice(1), 0.5),
        burstFirstP95Ms: turnout[0] ?? 0,
        floorP95Ms: percentile(floor.slice(1), 0.5),
        serverCpuMs: percentile(cpuMs.slice(1), 0.5),
        floorCpuMs: percentile(floorCpuMs.slice(1), 0.5),
        rounds,
        p95sMs: turnout.join(" "),
        floorP95sMs: floor.join(" "),
        serverCpusMs: cpuMs.join(" "),
        loads: loads.join(" "),
      };
    } finally {
      await floorServer.stop();
      await server.close();
      await database.drop();
    }
  },
};

export default burst;

// SIGUSR2 to the profiled server starts and stops its profile (cpu-profile.preload.ts); a no-op otherwise.
async function profileToggle(profileDir: string | undefined): Promise<() => void> {
  if (profileDir === undefined) return () => undefined;
  const pid = Number(await readFile(join(profileDir, "server.pid"), "utf8"));
  return () => {
    process.kill(pid, "SIGUSR2");
  };
}

function readRounds(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 5;
  const rounds = Number(raw);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100)
    throw new Error(`BENCH_BURST_ROUNDS must be an integer from 1 to 100, got "${raw}"`);
  return rounds;
}
