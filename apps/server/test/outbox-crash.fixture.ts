import { loadConfig } from "../src/config.ts";
import type { Bus } from "../src/platform/bus/bus.ts";
import { createMemoryBus } from "../src/platform/bus/memory-bus.ts";
import { connectNatsBus } from "../src/platform/bus/nats-bus.ts";
import { createDb } from "../src/platform/db.ts";
import { createLogger } from "../src/platform/logger.ts";
import { createMetrics } from "../src/platform/metrics.ts";
import { consumeDomainEvents } from "../src/platform/outbox/inbox.ts";
import { CRASH_CONSUMER, recordApplication } from "./outbox-crash.support.ts";
import { startOutboxRelay } from "../src/platform/outbox/relay.ts";

/*
 * The child process of outbox-crash.int.test.ts: runs the outbox relay and, when asked, the crash
 * consumer, on the database and bus named in its environment, until it is killed.
 * Env: DATABASE_URL; CRASH_NATS_URL (else the in-process bus); CRASH_STREAM and CRASH_PREFIX;
 * CRASH_WITH_CONSUMER=1 to bind the consumer (before the relay, as the in-process bus requires).
 */

const env = process.env;
const secret = "crash-fixture-secret-crash-fixture-secret";
const config = loadConfig({
  DATABASE_URL: env.DATABASE_URL,
  OUTBOX_POLL_MS: "200",
  TOKEN_SECRET: secret,
  TICKET_SECRET: secret,
  URL_SIGNING_SECRET: secret,
});
const databaseUrl = config.databaseUrl ?? "";
const { db } = createDb(databaseUrl, 5);
const log = createLogger("warn");
const natsUrl = env.CRASH_NATS_URL;
const bus: Bus = natsUrl
  ? await connectNatsBus(natsUrl, { name: "outbox-crash-fixture" })
  : createMemoryBus();
const stream = { name: env.CRASH_STREAM ?? "DOMAIN", subjectPrefix: env.CRASH_PREFIX ?? "domain" };
const deps = { db, databaseUrl, bus, config, log, metrics: createMetrics() };

if (env.CRASH_WITH_CONSUMER === "1") {
  await consumeDomainEvents(deps, { name: CRASH_CONSUMER, stream }, recordApplication);
}
await startOutboxRelay(deps, { stream });
process.stdout.write("READY\n");
