import { join } from "node:path";
import type { Config } from "../config.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
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
  });
  try {
    return { url: await ensureDatabase(cluster.url, "turnout"), stop: () => cluster.stop() };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
