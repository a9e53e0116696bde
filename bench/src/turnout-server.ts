import { rm } from "node:fs/promises";
import { apiPodNodeOptions } from "../../apps/server/test/deploy-files.ts";
import { createDataDir, findFreePort, startServer } from "../../e2e/support/server-process.ts";

/** Signs the scenarios' access tokens; the server under test gets it (and the other keys) from its env. */
export const BENCH_TOKEN_SECRET = "bench-token-secret-bench-token-secret-0000";

export interface TurnoutServer {
  baseUrl: string;
  pid: number;
  /** SIGTERM and wait (the server drains first); throws if it does not exit within 15 s. */
  stop(): Promise<void>;
  /** Best-effort teardown for `finally`; safe after stop(). */
  close(): Promise<void>;
}

/**
 * Runs the real server (`apps/server/src/main.ts`, as `npm start` does) in cluster mode with ROLES=api
 * on `databaseUrl`, and waits until it is ready. `env` adds or overrides settings. Node runs with the api
 * pods' NODE_OPTIONS (deploy/k8s/base/api.yaml: `--max-semi-space-size=64`, ADR 0005), or with
 * BENCH_SERVER_NODE_OPTIONS instead when that is set (empty for none), to compare flags.
 */
export async function startTurnout(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<TurnoutServer> {
  const dataDir = await createDataDir("bench");
  const server = startServer({
    name: "bench",
    port: await findFreePort(),
    dataDir,
    env: {
      DATABASE_URL: databaseUrl,
      ROLES: "api",
      LOG_LEVEL: "warn",
      TOKEN_SECRET: BENCH_TOKEN_SECRET,
      TICKET_SECRET: BENCH_TOKEN_SECRET,
      URL_SIGNING_SECRET: BENCH_TOKEN_SECRET,
      ...env,
      NODE_OPTIONS: [process.env.BENCH_SERVER_NODE_OPTIONS ?? apiPodNodeOptions(), env.NODE_OPTIONS]
        .filter(Boolean)
        .join(" "),
    },
  });
  const close = async () => {
    await server.forceStop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await server.waitUntilReady(30_000);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    baseUrl: server.baseUrl,
    pid: server.pid,
    async stop() {
      await server.stop(15_000);
    },
    close,
  };
}
