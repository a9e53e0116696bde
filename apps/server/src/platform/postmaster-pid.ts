import { existsSync } from "node:fs";
import { readFile, readlink, realpath, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive } from "./process.ts";

/*
 * postmaster.pid is left behind when the app (and with it its PostgreSQL) was killed. The pid it names may
 * still be that orphaned PostgreSQL, which must be stopped before a new one starts on the same files; or it
 * may by now be any other process, which the app (often root) must never signal.
 */

export type StalePidOutcome =
  | { kind: "none" }
  | { kind: "removed"; pid: number }
  | { kind: "stopped"; pid: number }
  | { kind: "ignored"; pid: number; reason: string };

const STOP_WAIT_MS = 15_000;

/** Stops an orphaned postmaster of `dataDir`, or drops a pid file naming something else; says which. */
export async function clearStalePidFile(dataDir: string): Promise<StalePidOutcome> {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return { kind: "none" };
  const pid = Number((await readFile(pidFile, "utf8")).split("\n", 1)[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) {
    await rm(pidFile, { force: true });
    return { kind: "removed", pid };
  }
  // Without /proc nothing can be verified: PostgreSQL's own lock check then decides, and says why.
  if (!existsSync("/proc/self/cmdline")) return { kind: "ignored", pid, reason: "no /proc to verify it" };
  const notOurs = await whyNotPostmasterOf(pid, dataDir);
  if (notOurs !== null) {
    // PostgreSQL itself refuses to start while the pid in its lock file is alive, whoever that is.
    await rm(pidFile, { force: true });
    return { kind: "ignored", pid, reason: notOurs };
  }
  process.kill(pid, "SIGINT"); // fast shutdown of the orphaned postmaster
  for (let waited = 0; isAlive(pid) && waited < STOP_WAIT_MS; waited += 100) await sleep(100);
  await rm(pidFile, { force: true });
  return { kind: "stopped", pid };
}

/** Null when `pid` is a PostgreSQL server whose data directory is `dataDir`, else why not (Linux /proc). */
export async function whyNotPostmasterOf(pid: number, dataDir: string): Promise<string | null> {
  const proc = `/proc/${pid}`;
  let argv: string[];
  try {
    argv = (await readFile(`${proc}/cmdline`, "utf8")).split("\0").filter(Boolean);
  } catch {
    return "its command line cannot be read";
  }
  const program = basename(argv[0] ?? "");
  if (program !== "postgres" && program !== "postmaster") return `it is "${argv.join(" ")}"`;
  const wanted = await realpath(dataDir);
  // A postmaster works in its data directory; the -D argument says the same when the cwd is unreadable.
  const cwd = await readlink(`${proc}/cwd`).catch(() => null);
  if (cwd === wanted) return null;
  const dataArg = argv[argv.indexOf("-D") + 1];
  if (argv.includes("-D") && dataArg !== undefined && (await realpath(dataArg).catch(() => "")) === wanted)
    return null;
  return "it is a PostgreSQL of another data directory";
}
