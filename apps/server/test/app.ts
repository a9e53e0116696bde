import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import type { Deps } from "../src/deps.ts";
import { createMemoryBus } from "../src/platform/bus/memory-bus.ts";
import { systemClock } from "../src/platform/clock.ts";
import { createJobQueue } from "../src/platform/jobs/job-queue.ts";
import { createLogger } from "../src/platform/logger.ts";
import { createMetrics } from "../src/platform/metrics.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export const TEST_SECRETS = {
  TOKEN_SECRET: "test-token-secret-test-token-secret-0000",
  TICKET_SECRET: "test-ticket-secret-test-ticket-secret-000",
  URL_SIGNING_SECRET: "test-url-secret-test-url-secret-test-0000",
};

export interface TestApp {
  app: FastifyInstance;
  deps: Deps;
  database: TestDatabase;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Environment overrides, read through the real loadConfig. */
  env?: Record<string, string>;
  deps?: Partial<Deps>;
  /** Registers extra (test-only) routes before the app is ready. */
  configure?: (app: FastifyInstance) => void | Promise<void>;
}

/** A real app on its own fresh database and an in-process bus. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = loadConfig({
    ...TEST_SECRETS,
    DATABASE_URL: database.url,
    LOG_LEVEL: "silent",
    // Tests read their own writes at once, also through other test apps; the cache has its own tests.
    READ_CACHE_MS: "0",
    // A listening test app closes at once despite open keep-alive sockets; the grace has its own tests.
    SHUTDOWN_GRACE_MS: "0",
    ...options.env,
  });
  const log = options.deps?.log ?? createLogger("silent");
  const metrics = options.deps?.metrics ?? createMetrics();
  // pg-boss installs its schema in each cloned database on first start (about 0.2 s per file).
  const jobs =
    options.deps?.jobs ??
    (await createJobQueue({ databaseUrl: database.url, log, metrics, pollIntervalMs: 500 }));
  const deps: Deps = {
    config,
    secrets: {
      tokenSecret: TEST_SECRETS.TOKEN_SECRET,
      ticketSecret: TEST_SECRETS.TICKET_SECRET,
      urlSigningSecret: TEST_SECRETS.URL_SIGNING_SECRET,
    },
    db: database.db,
    databaseUrl: database.url,
    bus: createMemoryBus(),
    clock: systemClock,
    log,
    metrics,
    jobs,
    ...options.deps,
  };
  const app = await buildApp(deps);
  await options.configure?.(app);
  await app.ready();
  return {
    app,
    deps,
    database,
    close: async () => {
      await app.close();
      await deps.jobs.stop();
      await deps.bus.close();
      await database.drop();
    },
  };
}
