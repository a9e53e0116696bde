import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

// Helpers for tests that run real servers (e2e/support/server-process.ts) and act on their embedded PostgreSQL.

/** The pid in DATA_DIR/postgres/postmaster.pid (the embedded PostgreSQL's main process). */
export async function readPostmasterPid(dataDir: string): Promise<number> {
  const text = await readFile(join(dataDir, "postgres", "postmaster.pid"), "utf8");
  const pid = Number(text.split("\n", 1)[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in postmaster.pid: ${text}`);
  return pid;
}

/** The postmaster and every process it started (backends, checkpointer, walwriter...), from /proc. */
export async function findPostgresProcesses(dataDir: string): Promise<number[]> {
  const postmaster = await readPostmasterPid(dataDir);
  const children: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // Field 4 is the parent pid; the command name (field 2) may hold spaces, so read after its ")".
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (parent === postmaster) children.push(Number(entry));
  }
  return [postmaster, ...children];
}

/** Sends `signal` to each pid, ignoring ones that are gone already. */
export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

export interface TimedAnswer {
  name: string;
  status: number;
  ms: number;
  /** `error.code` of an error body, else null. */
  code: string | null;
  retryAfter: string | null;
  body: unknown;
}

/** One HTTP request with its duration; a request still unanswered after `limitMs` counts as status 0. */
export async function timedRequest(
  name: string,
  url: string,
  init: RequestInit = {},
  limitMs = 10_000,
): Promise<TimedAnswer> {
  const startedAt = performance.now();
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(limitMs) });
    const text = await response.text();
    const body: unknown = text === "" ? null : JSON.parse(text);
    return {
      name,
      status: response.status,
      ms: Math.round(performance.now() - startedAt),
      code: errorCodeOf(body),
      retryAfter: response.headers.get("retry-after"),
      body,
    };
  } catch {
    return {
      name,
      status: 0,
      ms: Math.round(performance.now() - startedAt),
      code: null,
      retryAfter: null,
      body: null,
    };
  }
}

function errorCodeOf(body: unknown): string | null {
  if (typeof body !== "object" || body === null || !("error" in body)) return null;
  const { error } = body;
  if (typeof error !== "object" || error === null || !("code" in error)) return null;
  return typeof error.code === "string" ? error.code : null;
}
