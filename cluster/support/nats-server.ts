import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findFreePort } from "../../apps/server/src/platform/ports.ts";
import { probeNats } from "../../apps/server/test/nats.ts";

/** The nats-server binary the outage test runs privately (never the machine's shared NATS on 4222). */
export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

/**
 * Whether the calling file can run a private nats-server (call it at the file's top level). Without the
 * binary it prints one SKIPPED line; under TURNOUT_REQUIRE_ALL_TIERS=1 it registers a failing test instead.
 */
export function shouldRunPrivateNats(what: string): boolean {
  if (existsSync(NATS_SERVER_BIN)) return true;
  if (process.env.TURNOUT_REQUIRE_ALL_TIERS === "1") {
    describe(what, () => {
      it(`finds nats-server at ${NATS_SERVER_BIN}`, () => {
        expect.fail(
          `no nats-server at ${NATS_SERVER_BIN} (TURNOUT_REQUIRE_ALL_TIERS=1 requires the cluster tier)`,
        );
      });
    });
  } else {
    process.stderr.write(`SKIPPED: ${what} — no nats-server at ${NATS_SERVER_BIN} (set NATS_SERVER_BIN)\n`);
  }
  return false;
}

export interface PrivateNats {
  url: string;
  /** Stops the server (SIGTERM) and waits for its exit; JetStream's store stays on disk. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store; resolves once JetStream answers. */
  start(): Promise<void>;
  /** Stops it if running and deletes its store. */
  destroy(): Promise<void>;
}

/** A nats-server with JetStream on a free loopback port and a store directory of its own. */
export async function startPrivateNats(): Promise<PrivateNats> {
  const port = await findFreePort();
  const storeDir = await mkdtemp(join(tmpdir(), "turnout-cluster-nats-"));
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const spawned = spawn(NATS_SERVER_BIN, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir], {
      stdio: "ignore",
    });
    child = spawned;
    exited = new Promise((resolve) =>
      spawned.once("exit", () => {
        resolve();
      }),
    );
    for (let waited = 0; (await probeNats(url)) !== null; waited += 100) {
      if (waited > 20_000 || spawned.exitCode !== null)
        throw new Error(`nats-server did not start on ${url}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stop = async () => {
    child?.kill("SIGTERM");
    await exited;
    child = null;
  };
  await start();
  return {
    url,
    stop,
    start,
    destroy: async () => {
      await stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
