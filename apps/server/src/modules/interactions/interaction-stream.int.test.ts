import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { InteractionStamp } from "@turnout/contracts";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../../test/database.ts";
import { deleteNatsStream, shouldRunNatsTests, TEST_NATS_URL } from "../../../test/nats.ts";
import { createLogger } from "../../platform/logger.ts";
import { appendedBatchOf, openInteractionStream } from "./interaction-stream.ts";

// The JetStream stream's appends: the publishes of one turn of the event loop go out together
// (publishTogether), and each append still resolves only once its own message is in the stream.

const runNats = await shouldRunNatsTests("interaction stream appends on JetStream");

describe.runIf(runNats)("appends on JetStream", () => {
  const streamName = `interactions_append_${randomBytes(6).toString("hex")}`;
  afterAll(async () => {
    await deleteNatsStream(streamName, { ifExists: true });
  });

  const stamp: InteractionStamp = {
    sourceId: "00000000-0000-7000-8000-000000000001",
    receivedAt: new Date().toISOString(),
    ip: null,
    device: "desktop",
    browser: "Firefox",
    os: "Linux",
  };
  const batch = (n: number) =>
    appendedBatchOf(stamp, [
      {
        id: `append-${n}`,
        type: "track",
        name: undefined,
        timestamp: new Date().toISOString(),
        anonymousId: "anon",
        userId: undefined,
        sessionId: undefined,
        properties: { n, padding: "x".repeat(20_000) },
        context: undefined,
      },
    ]);

  it("resolves each of many appends of one turn once its message is stored, and rejects after close", async () => {
    const database = await createTestDatabase();
    const stream = await openInteractionStream({
      natsUrl: TEST_NATS_URL,
      streamName,
      maxBacklog: 20_000,
      maxBacklogMs: 600_000,
      db: database.db,
      log: createLogger("silent"),
    });
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const stored = async () => (await jsm.streams.info(streamName)).state.messages;
      // 40 messages of 20 KB in one turn: more than one socket write's worth, all in the same queue.
      await Promise.all(Array.from({ length: 40 }, (_unused, n) => stream.append(batch(n))));
      expect(await stored()).toBe(40);
      // A lone append in a later turn goes out as well.
      await stream.append(batch(40));
      expect(await stored()).toBe(41);
      await stream.close();
      await expect(stream.append(batch(41))).rejects.toThrow();
      expect(await stored()).toBe(41);
    } finally {
      await nc.close();
      await database.drop();
    }
  });
});
