import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { describeBusContract } from "./bus.contract.ts";
import { createMemoryBus } from "./memory-bus.ts";
import { connectNatsBus } from "./nats-bus.ts";

const natsUrl = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const isNatsRequired = process.env.TURNOUT_REQUIRE_ALL_TIERS === "1";

describeBusContract("memory", () => Promise.resolve(createMemoryBus()));

const unreachable = await probeNats(natsUrl);
if (unreachable === null) {
  describeBusContract("nats", () => connectNatsBus(natsUrl, { name: "turnout-bus-contract" }), {
    deleteStream: deleteNatsStream,
  });
} else if (isNatsRequired) {
  describe("bus contract: nats", () => {
    it(`reaches NATS at ${natsUrl}`, () => {
      expect.fail(`no NATS at ${natsUrl} (TURNOUT_REQUIRE_ALL_TIERS=1): ${unreachable}`);
    });
  });
} else {
  process.stderr.write(`SKIPPED: NATS bus contract — no NATS at ${natsUrl}\n`);
  describeBusContract("nats", () => Promise.reject(new Error("unreachable")), { skip: true });
}

// Null when NATS with JetStream answers, else why not.
async function probeNats(url: string): Promise<string | null> {
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

async function deleteNatsStream(name: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}
