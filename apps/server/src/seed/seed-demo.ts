// `npm run seed`: fills the embedded instance (or DATABASE_URL) with demo people and events, then exits.
// Running it again changes nothing.
import { loadConfig } from "../config.ts";
import { systemClock } from "../platform/clock.ts";
import { createDb } from "../platform/db.ts";
import { createLogger } from "../platform/logger.ts";
import { createMetrics } from "../platform/metrics.ts";
import { migrateToLatest } from "../platform/migrate.ts";
import { openDatabase } from "../platform/open-database.ts";
import { loadSecrets } from "../platform/secrets.ts";
import { DEMO_PASSWORD, DEMO_PEOPLE } from "./demo-data.ts";
import { seedDemo } from "./demo-seeder.ts";

const config = loadConfig();
const log = createLogger(config.logLevel);
const database = await openDatabase(config, log);
const { db, close } = createDb(database.url, 2);
try {
  await migrateToLatest(db);
  const secrets = await loadSecrets(config);
  const summary = await seedDemo({ db, clock: systemClock, config, secrets, metrics: createMetrics() });
  if (summary.skipped) {
    log.info("the demo data is there already; nothing to do");
  } else {
    log.info(summary, "demo data written");
    log.info(`sign in as ${DEMO_PEOPLE[0]?.email ?? ""} (or any demo person) with password ${DEMO_PASSWORD}`);
  }
} finally {
  await close();
  await database.stop();
}
