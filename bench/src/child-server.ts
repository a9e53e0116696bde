import { spawn } from "node:child_process";

export interface ChildServer {
  /** http://127.0.0.1:<port> */
  url: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 5 s; safe to call twice. */
  stop(): Promise<void>;
}

const START_DEADLINE_MS = 15_000;

/**
 * Runs `file` (a TypeScript module that listens on 127.0.0.1 and sends `{port}` over IPC) in its own Node
 * process, so the server under test never shares an event loop with the load generator.
 */
export async function startChildServer(file: string, env: Record<string, string> = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  child.stdout?.pipe(process.stderr); // stdout belongs to the result line alone
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (!isRunning()) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${file} did not report a port within ${START_DEADLINE_MS} ms`));
      }, START_DEADLINE_MS);
      child.once("exit", (code) => {
        reject(new Error(`${file} exited with code ${code} before listening`));
      });
      child.on("message", (message: unknown) => {
        if (
          typeof message === "object" &&
          message !== null &&
          "port" in message &&
          typeof message.port === "number"
        ) {
          clearTimeout(timer);
          resolve(message.port);
        }
      });
    });
    return { url: `http://127.0.0.1:${port}`, pid: child.pid ?? 0, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
