import { createDb } from "../../apps/server/src/platform/db.ts";
import type { Db } from "../../apps/server/src/platform/db.ts";
import { migrateToLatest } from "../../apps/server/src/platform/migrate.ts";
import { createScratchDatabase } from "../../e2e/support/scratch-database.ts";

export interface BenchDatabase {
  url: string;
  /** A small pool on it, for filling and checking. */
  db: Db;
  /** Closes the pool and drops the database. */
  drop: () => Promise<void>;
}

/** A uniquely named database on `adminUrl`'s server, migrated, filled by `fill`; dropped again if that fails. */
export async function createBenchDatabase(
  adminUrl: string,
  fill: (db: Db) => Promise<void>,
): Promise<BenchDatabase> {
  const scratch = await createScratchDatabase(adminUrl);
  const { db, close } = createDb(scratch.url, 4);
  const drop = async () => {
    await close();
    await scratch.drop();
  };
  try {
    await migrateToLatest(db);
    await fill(db);
    return { url: scratch.url, db, drop };
  } catch (error) {
    await drop();
    throw error;
  }
}
