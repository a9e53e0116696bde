import { join } from "node:path";
import type { Config } from "../config.ts";
import { startEmbeddedPostgres, type ClusterEvent } from "./embedded-postgres.ts";
import { ensureDatabase } from "./ensure-database.ts";
import type { Logger } from "./logger.ts";

export interface DatabaseLocation {
  url: string;
  /** Stops the embedded cluster; nothing to do for an external database. */
  stop(): Promise<void>;
}

/** The database to use: DATABASE_URL, or (embedded mode) the private cluster in DATA_DIR/postgres, started now. */
export async function openDatabase(config: Config, log: Logger): Promise<DatabaseLocation> {
  if (config.databaseUrl !== undefined) return { url: config.databaseUrl, stop: () => Promise.resolve() };
  const cluster = await startEmbeddedPostgres({
    dataDir: join(config.dataDir, "postgres"),
    port: config.embeddedPostgresPort,
    onLog: (line) => {
      log.debug({ postgres: line.trim() }, "postgres");
    },
    onEvent: (event) => {
      logClusterEvent(log, event);
    },
  });
  log.info({ port: cluster.port }, "embedded PostgreSQL running");
  try {
    return { url: await ensureDatabase(cluster.url, "turnout"), stop: () => cluster.stop() };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

// The supervisor's reports: a death and a failed restart are errors someone should look into.
function logClusterEvent(log: Logger, event: ClusterEvent): void {
  switch (event.kind) {
    case "stale-pid-file":
      log.warn({ ...event.outcome }, "embedded PostgreSQL: stale postmaster.pid handled");
      return;
    case "exited":
      log.error({ code: event.code, signal: event.signal }, "embedded PostgreSQL exited; restarting it");
      return;
    case "restarted":
      log.info({ afterMs: event.afterMs, attempts: event.attempts }, "embedded PostgreSQL restarted");
      return;
    case "restart-failed":
      log.error({ err: event.error, attempt: event.attempt }, "embedded PostgreSQL restart failed; retrying");
      return;
  }
}
