import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { createDeps, type CreateDepsOptions, type Deps } from "../src/deps.ts";
import { createLogger } from "../src/platform/logger.ts";
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
  /** Parts the test brings itself (a manual clock, a logger it reads); the rest is built as in main.ts. */
  deps?: CreateDepsOptions["overrides"];
  /** Registers extra (test-only) routes before the app is ready. */
  configure?: (app: FastifyInstance) => void | Promise<void>;
  /**
   * With the collector role, wait until its warm-up has run (/readyz no longer names `warm-up`) before
   * returning, so tests of readiness see only their own dependencies (default true).
   */
  isWarmUpAwaited?: boolean;
}

/** A real app on a fresh database, wired by createDeps as in main.ts (in-process bus unless NATS_URL). */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  // Files and mails a test writes go to a directory of its own, removed on close, never the repo's ./data.
  const dataDir = await mkdtemp(join(tmpdir(), "turnout-test-data-"));
  const config = loadConfig({
    DATA_DIR: dataDir,
    ...TEST_SECRETS,
    DATABASE_URL: database.url,
    LOG_LEVEL: "silent",
    // Tests read their own writes at once, also through other test apps; the cache has its own tests.
    READ_CACHE_MS: "0",
    // A listening test app closes at once despite open keep-alive sockets; the grace has its own tests.
    SHUTDOWN_GRACE_MS: "0",
    ...options.env,
  });
  const stops: (() => Promise<unknown>)[] = [];
  const deps = await createDeps(
    {
      config,
      secrets: {
        tokenSecret: TEST_SECRETS.TOKEN_SECRET,
        ticketSecret: TEST_SECRETS.TICKET_SECRET,
        urlSigningSecret: TEST_SECRETS.URL_SIGNING_SECRET,
      },
      db: database.db,
      databaseUrl: database.url,
      log: createLogger("silent"),
    },
    {
      onStop: (_name, stop) => stops.unshift(stop),
      // A job a test enqueues runs within half a second instead of the 2 s default poll.
      jobPollIntervalMs: 500,
      overrides: options.deps,
    },
  );
  const app = await buildApp(deps);
  await options.configure?.(app);
  await app.ready();
  if (config.roles.has("collector") && options.isWarmUpAwaited !== false) await waitUntilWarm(app);
  return {
    app,
    deps,
    database,
    close: async () => {
      await app.close();
      for (const stop of stops) await stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

// The collector's warm-up takes a fraction of a second (ADR 0015); a test app is ready only after it.
async function waitUntilWarm(app: FastifyInstance): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { problems } = (await app.inject({ url: "/readyz" })).json<{ problems: string[] }>();
    if (!problems.includes("warm-up")) return;
    if (Date.now() > deadline) throw new Error("the collector did not warm up within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
