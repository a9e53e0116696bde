import { loadConfig } from "../src/config.ts";
import { startInteractionProcessor } from "../src/modules/interactions/index.ts";
import { systemClock } from "../src/platform/clock.ts";
import { createDb } from "../src/platform/db.ts";
import { createLogger } from "../src/platform/logger.ts";
import { createMetrics } from "../src/platform/metrics.ts";
import { TEST_SECRETS } from "./app.ts";

/*
 * The child process of processor-crash.int.test.ts: runs the interaction processor on the database, NATS
 * and stream named in its environment (DATABASE_URL, NATS_URL, INTERACTIONS_STREAM) until it is killed.
 */

const config = loadConfig({ ...process.env, ...TEST_SECRETS, LOG_LEVEL: "warn" });
const databaseUrl = config.databaseUrl ?? "";
const { db } = createDb(databaseUrl, 2);
const log = createLogger("warn");
await startInteractionProcessor({
  config,
  db,
  databaseUrl,
  log,
  metrics: createMetrics(),
  clock: systemClock,
});
process.stdout.write("READY\n");
