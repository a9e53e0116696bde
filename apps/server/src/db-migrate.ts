// `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the embedded cluster) and exits.
import { loadConfig } from "./config.ts";
import { createDb } from "./platform/db.ts";
import { createLogger } from "./platform/logger.ts";
import { migrateToLatest } from "./platform/migrate.ts";
import { openDatabase } from "./platform/open-database.ts";

const config = loadConfig();
const log = createLogger(config.logLevel);
const database = await openDatabase(config, log);
const { db, close } = createDb(database.url, 1);
try {
  const applied = await migrateToLatest(db);
  log.info(
    { migrations: applied },
    applied.length > 0 ? "migrations applied" : "database already up to date",
  );
} finally {
  await close();
  await database.stop();
}
