import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { errorBodySchema } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_SECRETS } from "../test/app.ts";
import { createTestDatabase, type TestDatabase } from "../test/database.ts";
import { exchange, openSocket, waitForClose } from "../test/raw-http.ts";
import { findFreePort } from "./platform/ports.ts";

/*
 * A real SIGTERM to a real server process (main.ts): a client holding an idle keep-alive socket that sends a
 * request after the signal gets 503 service.unavailable with Connection: close, not a reset.
 */

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

interface Child {
  output: () => string;
  waitFor: (text: string, ms: number) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (signal: NodeJS.Signals) => void;
}

function startMain(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters.filter((w) => output.includes(w.text))) waiter.resolve();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve({ code, signal });
    });
  });
  return {
    output: () => output,
    exited,
    kill: (signal) => {
      child.kill(signal);
    },
    waitFor: (text, ms) =>
      new Promise<void>((resolve, reject) => {
        if (output.includes(text)) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          reject(new Error(`no "${text}" within ${ms} ms:\n${output}`));
        }, ms);
        waiters.push({
          text,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`exited before "${text}":\n${output}`));
        });
      }),
  };
}

let database: TestDatabase;
let child: Child | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  child?.kill("SIGKILL");
  await child?.exited;
  await database.drop();
});

describe("SIGTERM", () => {
  it("answers a request on an idle keep-alive socket with 503 and Connection: close, then exits 0", async () => {
    const port = await findFreePort();
    child = startMain({
      ...TEST_SECRETS,
      DATABASE_URL: database.url,
      PORT: String(port),
      HOST: "127.0.0.1",
      ROLES: "api",
      LOG_LEVEL: "info",
      SHUTDOWN_GRACE_MS: "3000",
    });
    await child.waitFor("turnout ready", 60_000);
    const socket = await openSocket(port);
    const first = await exchange(socket, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect(first.status).toBe(200);
    expect(first.headers["connection"]).toBe("keep-alive");

    child.kill("SIGTERM");
    await child.waitFor('"msg":"shutting down"', 5000);
    const second = await exchange(socket, "GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n");

    expect(second.status).toBe(503);
    expect(second.headers["connection"]).toBe("close");
    expect(second.headers["retry-after"]).toBe("1");
    expect(errorBodySchema.parse(JSON.parse(second.body)).error.code).toBe("service.unavailable");
    expect(await waitForClose(socket)).toBe("closed");
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.output()).not.toMatch(/"level":(50|60)/);
  });
});
