import { Migrator } from "kysely";
import type { Db } from "./db.ts";
import { migrations } from "./migrations/index.ts";

/** Applies every pending migration under Kysely's migration lock; throws on the first failure. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined)
    throw error instanceof Error ? error : new Error("migration failed", { cause: error });
  return results.filter((result) => result.status === "Success").map((result) => result.migrationName);
}
