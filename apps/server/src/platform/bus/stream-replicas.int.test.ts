import { randomUUID } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { deleteNatsStream, shouldRunNatsTests, TEST_NATS_URL } from "../../../test/nats.ts";
import { connectNatsBus } from "./nats-bus.ts";

// NATS_STREAM_REPLICAS reaches JetStream (ADR 0023): the test NATS is one server, so it keeps one copy and
// refuses three, which shows the number is the one asked for.

const runs = await shouldRunNatsTests("stream replicas on NATS");

describe.runIf(runs)("streams created with NATS_STREAM_REPLICAS", () => {
  const names: string[] = [];
  afterAll(async () => {
    for (const name of names) await deleteNatsStream(name, { ifExists: true });
  });

  async function replicasOf(name: string): Promise<number> {
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      return (await (await jetstreamManager(nc)).streams.info(name)).config.num_replicas;
    } finally {
      await nc.close();
    }
  }

  it("keeps one copy when asked for one, and is refused three by a single server", async () => {
    const one = await connectNatsBus(TEST_NATS_URL, { streamReplicas: 1 });
    const three = await connectNatsBus(TEST_NATS_URL, { streamReplicas: 3 });
    try {
      const tag = randomUUID().replaceAll("-", "").slice(0, 12);
      names.push(`R1_${tag}`, `R3_${tag}`);
      await one.ensureStream(`R1_${tag}`, [`r1_${tag}.>`]);
      expect(await replicasOf(`R1_${tag}`)).toBe(1);
      await expect(three.ensureStream(`R3_${tag}`, [`r3_${tag}.>`])).rejects.toThrow(/replica/i);
    } finally {
      await one.close();
      await three.close();
    }
  });
});
