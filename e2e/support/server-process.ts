import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { whyNotPostmasterOf } from "../../apps/server/src/platform/postmaster-pid.ts";
import { isAlive } from "../../apps/server/src/platform/process.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const ARTIFACTS_DIR = resolve(import.meta.dirname, "../.artifacts");

// Settings a developer's shell or the test runner may carry that would change which mode the server runs in.
const INHERITED_SETTINGS_TO_DROP = [
  "PORT",
  "HOST",
  "DATA_DIR",
  "DATABASE_URL",
  "EMBEDDED_POSTGRES_PORT",
  "NATS_URL",
  "ROLES",
  "TOKEN_SECRET",
  "TICKET_SECRET",
  "URL_SIGNING_SECRET",
  "NODE_ENV",
];

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from the stop request to the exit. */
  ms: number;
  /** Messages the server logged at error level or above between the SIGTERM and its exit. */
  errorsWhileStopping: string[];
}

export interface ServerProcess {
  baseUrl: string;
  /** The server's process id (for measurements such as its CPU time). */
  pid: number;
  /** Polls GET /readyz until 200; resolves with the milliseconds since spawn. Throws with the log tail otherwise. */
  waitUntilReady(deadlineMs: number): Promise<number>;
  /** Sends SIGTERM and waits up to `deadlineMs` for the exit; SIGKILLs and throws if it does not come. */
  stop(deadlineMs: number): Promise<ExitStatus>;
  /** SIGKILLs the server (a crash: no shutdown runs) and waits for its exit. */
  crash(): Promise<void>;
  /** Best-effort teardown for afterAll: stops the server if it still runs, and any PostgreSQL it orphaned. */
  forceStop(): Promise<void>;
  logTail(lines?: number): string;
}

interface StartOptions {
  /** Names the log file written to e2e/.artifacts/. */
  name: string;
  port: number;
  dataDir: string;
  env: Record<string, string>;
}

/** The server's node arguments, as `npm start` and the image run it (a test holds the three equal). */
export const SERVER_NODE_ARGS = [
  "--import",
  "tsx",
  // Starts OpenTelemetry before main.ts loads when OTEL_EXPORTER_OTLP_ENDPOINT is set; else does nothing.
  "--import",
  "./apps/server/src/tracing.ts",
  "apps/server/src/main.ts",
];

/** Spawns the server (SERVER_NODE_ARGS) from the repo root, as `npm start` does. */
export function startServer({ name, port, dataDir, env }: StartOptions): ServerProcess {
  const inherited = Object.entries(process.env).filter(
    ([key]) => !INHERITED_SETTINGS_TO_DROP.includes(key) && !key.startsWith("VITEST"),
  );
  const childEnv = {
    ...Object.fromEntries(inherited),
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ...env,
  };

  const spawnedAt = performance.now();
  const child = spawn(process.execPath, SERVER_NODE_ARGS, {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const append = (chunk: string) => {
    log += chunk;
  };
  child.stdout.setEncoding("utf8").on("data", append);
  child.stderr.setEncoding("utf8").on("data", append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    // "close", not "exit": it comes after the last output, which the stop checks read.
    child.once("close", (code, signal) => {
      resolveExit({ code, signal });
    });
  });
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const baseUrl = `http://127.0.0.1:${port}`;
  const logTail = (lines = 30) => log.trimEnd().split("\n").slice(-lines).join("\n");
  const saveLog = async () => {
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    await writeFile(join(ARTIFACTS_DIR, `${name}.server.log`), log);
  };

  return {
    baseUrl,
    pid: child.pid ?? 0,
    logTail,
    async waitUntilReady(deadlineMs) {
      const deadline = spawnedAt + deadlineMs;
      while (performance.now() < deadline) {
        if (!isRunning()) {
          await saveLog();
          throw new Error(`server "${name}" exited (code ${child.exitCode}) before ready:\n${logTail()}`);
        }
        if (await isReady(baseUrl)) return Math.round(performance.now() - spawnedAt);
        await sleep(100);
      }
      await saveLog();
      throw new Error(`server "${name}" not ready within ${deadlineMs} ms:\n${logTail()}`);
    },
    async stop(deadlineMs) {
      const stoppedAt = performance.now();
      const logOffset = log.length;
      child.kill("SIGTERM");
      const status = await waitUntil(exited, deadlineMs);
      await saveLog();
      if (status === undefined) {
        await killHard(child, dataDir);
        throw new Error(`server "${name}" still running ${deadlineMs} ms after SIGTERM:\n${logTail()}`);
      }
      const errorsWhileStopping = findErrorLogs(log.slice(logOffset));
      return { ...status, ms: Math.round(performance.now() - stoppedAt), errorsWhileStopping };
    },
    async crash() {
      child.kill("SIGKILL");
      await exited;
      await saveLog();
    },
    async forceStop() {
      if (isRunning()) {
        child.kill("SIGTERM");
        const status = await waitUntil(exited, 10_000);
        if (status === undefined) await killHard(child, dataDir);
      }
      // Also when it had exited by itself: that log is the one that says why.
      await saveLog();
      await stopOrphanedPostgres(dataDir);
    },
  };
}

/** A fresh DATA_DIR under the system temp dir, shaped like the `./data` that `npm start` creates. */
export async function createDataDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `turnout-e2e-${prefix}-`));
  // mkdtemp makes it 0700; as root the embedded cluster runs as a separate postgres user that must traverse it.
  await chmod(dir, 0o755);
  return dir;
}

export { findFreePort } from "../../apps/server/src/platform/ports.ts";

// pino levels: 50 error, 60 fatal. Non-JSON lines (a crash on stderr) count as errors too.
function findErrorLogs(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .flatMap((line) => {
      try {
        const entry: unknown = JSON.parse(line);
        if (typeof entry !== "object" || entry === null || !("level" in entry)) return [line];
        const { level } = entry;
        if (typeof level !== "number" || level < 50) return [];
        const message = "msg" in entry && typeof entry.msg === "string" ? entry.msg : "";
        const err = "err" in entry && typeof entry.err === "object" && entry.err !== null ? entry.err : {};
        const cause = "message" in err && typeof err.message === "string" ? `: ${err.message}` : "";
        return [`${message}${cause}`];
      } catch {
        return [line];
      }
    });
}

async function isReady(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

async function killHard(child: ChildProcess, dataDir: string): Promise<void> {
  child.kill("SIGKILL");
  await stopOrphanedPostgres(dataDir);
}

// A SIGKILLed server cannot stop its embedded PostgreSQL, which would outlive the test and hold the port.
async function stopOrphanedPostgres(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, "postgres", "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, "utf8")).split("\n", 1)[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  // The pid may by now belong to anything else; only this data directory's PostgreSQL is stopped.
  if ((await whyNotPostmasterOf(pid, join(dataDir, "postgres")).catch(() => "gone")) !== null) return;
  try {
    process.kill(pid, "SIGINT");
  } catch {
    return; // already gone
  }
  for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) await sleep(100);
}

/** The promise's value, or undefined if it has not settled within `ms`. */
async function waitUntil<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolveTimeout) => {
    timer = setTimeout(resolveTimeout, ms, undefined);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
