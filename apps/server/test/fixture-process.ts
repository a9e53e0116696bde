import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";

export interface FixtureProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** The signal that ended it, or its exit code. */
  exited: Promise<NodeJS.Signals | number | null>;
}

/**
 * Starts a test fixture (a TypeScript file run with tsx) as a real process and resolves once it prints `READY`
 * on a line of its own; rejects with what it printed if it exits first. `cleanups` gets a SIGKILL and the wait
 * for its end, so a test that fails midway leaves no process behind. `onLine` hears every line it prints on
 * stdout, `READY` included.
 */
export async function startFixtureProcess(
  fixture: string,
  env: Record<string, string>,
  cleanups: (() => Promise<unknown>)[],
  onLine: (line: string) => void = () => undefined,
): Promise<FixtureProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", fixture], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve(signal ?? code);
    });
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  });
  let output = "";
  let partial = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        onLine(line);
        if (line === "READY") resolve();
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    void exited.then((how) => {
      reject(new Error(`${fixture} exited (${String(how)}) before it was ready:\n${output}`));
    });
  });
  return { child, exited };
}
