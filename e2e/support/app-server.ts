import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { createScratchDatabase, TEST_CLUSTER_SECRETS, type ScratchDatabase } from "./scratch-database.ts";
import { createDataDir, findFreePort, startServer, type ServerProcess } from "./server-process.ts";
import { ensureWebBuild } from "./web-build.ts";

export interface AppServer {
  server: ServerProcess;
  /** The scratch database in cluster mode (TEST_DATABASE_URL set); undefined in embedded mode. */
  database: ScratchDatabase | undefined;
  /** The key the server signs access tokens with (tests that need a token the server would have issued). */
  tokenSecret(): Promise<string>;
  /** Stops the server and removes what it used (data dir, scratch database). */
  close(): Promise<void>;
}

/**
 * A started server with the built web app: on a scratch database of TEST_DATABASE_URL when set (cluster
 * mode), else embedded mode with its own PostgreSQL, as `npm start` runs it.
 */
export async function startAppServer(name: string): Promise<AppServer> {
  await ensureWebBuild();
  const dataDir = await createDataDir(name);
  const adminUrl = process.env.TEST_DATABASE_URL;
  let database: ScratchDatabase | undefined;
  let env: Record<string, string>;
  if (adminUrl !== undefined && adminUrl !== "") {
    database = await createScratchDatabase(adminUrl);
    env = { DATABASE_URL: database.url, ...TEST_CLUSTER_SECRETS };
  } else {
    env = { EMBEDDED_POSTGRES_PORT: String(await findFreePort()) };
  }
  const server = startServer({ name, port: await findFreePort(), dataDir, env });
  const close = async () => {
    await server.forceStop();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await server.waitUntilReady(90_000);
  } catch (error) {
    await close();
    throw error;
  }
  const tokenSecret = async () =>
    database === undefined
      ? (JSON.parse(await readFile(join(dataDir, "secrets.json"), "utf8")) as { tokenSecret: string })
          .tokenSecret
      : TEST_CLUSTER_SECRETS.TOKEN_SECRET;
  return { server, database, tokenSecret, close };
}
