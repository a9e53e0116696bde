import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";

/** The NATS server (with JetStream) that int tests use. */
export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** Null when NATS with JetStream answers at `url`, else why not. */
export async function probeNats(url: string = TEST_NATS_URL): Promise<string | null> {
  try {
    const nc = await connect({ servers: url, timeout: 2_000, maxReconnectAttempts: 0 });
    try {
      await jetstreamManager(nc);
      return null;
    } finally {
      await nc.close();
    }
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Deletes a JetStream stream on TEST_NATS_URL; with `ifExists`, a failed delete (no such stream) is ignored. */
export async function deleteNatsStream(name: string, opts: { ifExists?: boolean } = {}): Promise<void> {
  const nc = await connect({ servers: TEST_NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    const deleted = jsm.streams.delete(name);
    await (opts.ifExists === true ? deleted.catch(() => false) : deleted);
  } finally {
    await nc.close();
  }
}

/**
 * Whether the calling test file should run its NATS tests (call it at the file's top level). Without NATS
 * it prints one SKIPPED line naming `what` and answers false; under TURNOUT_REQUIRE_ALL_TIERS=1 it instead
 * registers a failing test, because there a missing tier must fail the run, not pass it quietly.
 */
export async function shouldRunNatsTests(what: string): Promise<boolean> {
  const problem = await probeNats(TEST_NATS_URL);
  if (problem === null) return true;
  if (process.env.TURNOUT_REQUIRE_ALL_TIERS === "1") {
    describe(what, () => {
      it(`reaches NATS at ${TEST_NATS_URL}`, () => {
        expect.fail(`no NATS at ${TEST_NATS_URL} (TURNOUT_REQUIRE_ALL_TIERS=1): ${problem}`);
      });
    });
  } else {
    process.stderr.write(`SKIPPED: ${what} — no NATS at ${TEST_NATS_URL}\n`);
  }
  return false;
}
