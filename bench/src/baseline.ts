import { join } from "node:path";
import { startChildServer } from "./child-server.ts";
import { measureHttp, type HttpLoad } from "./http-load.ts";
import { progress } from "./scenario.ts";

export interface BaselineResult {
  rps: number;
  p99Ms: number;
  connections: number;
  durationS: number;
}

const SERVER_FILE = join(import.meta.dirname, "servers/bare-fastify.server.ts");
// Unmeasured: the first second pays for JIT warm-up and connection set-up, which a short run would overweight.
const WARMUP_S = 1;

/** Measures a bare Fastify route returning a constant, in its own process: the ceiling other scenarios compare to. */
export async function measureBaseline(load: HttpLoad): Promise<BaselineResult> {
  const server = await startChildServer(SERVER_FILE);
  try {
    progress(`baseline: bare Fastify at ${server.url}; warming up ${WARMUP_S} s`);
    await measureHttp(server.url, { ...load, durationS: WARMUP_S });
    progress(`baseline: ${load.connections} connections for ${load.durationS} s`);
    const { rps, p99Ms } = await measureHttp(server.url, load);
    progress(`baseline: ${rps} req/s, p99 ${p99Ms} ms`);
    return { rps, p99Ms, connections: load.connections, durationS: load.durationS };
  } finally {
    await server.stop();
  }
}
