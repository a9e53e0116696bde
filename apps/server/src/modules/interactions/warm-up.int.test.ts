import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { deleteNatsStream, shouldRunNatsTests, TEST_NATS_URL } from "../../../test/nats.ts";

// The collector warms its path before it reports ready (ADR 0015), and nothing of the warm-up is appended.

const apps: TestApp[] = [];
afterAll(async () => {
  for (const app of apps) await app.close();
});

async function readiness(t: TestApp) {
  const response = await t.app.inject({ url: "/readyz" });
  return { status: response.statusCode, body: response.json<{ status: string; problems: string[] }>() };
}

async function untilReady(t: TestApp) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await readiness(t);
    if (answer.status === 200 || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const item = () => ({
  id: `warm-up-test-${randomBytes(4).toString("hex")}`,
  type: "track",
  timestamp: new Date(Date.now() - 1_000).toISOString(),
  anonymousId: "anon-1",
});

async function countRows(t: TestApp) {
  const { rows } = await sql<{ batches: number; stored: number }>`
    SELECT (SELECT count(*)::int FROM interaction_batches) AS batches,
           (SELECT count(*)::int FROM interactions) AS stored`.execute(t.deps.db);
  return rows[0];
}

it("answers /readyz 503 `warm-up` until the warm-up has run, and appends and stores nothing of it (embedded)", async () => {
  const t = await createTestApp({ env: { ROLES: "collector" }, isWarmUpAwaited: false });
  apps.push(t);
  expect(await readiness(t)).toEqual({ status: 503, body: { status: "unready", problems: ["warm-up"] } });
  expect(await untilReady(t)).toEqual({ status: 200, body: { status: "ready", problems: [] } });
  expect(await countRows(t)).toEqual({ batches: 0, stored: 0 });
  // The count can see an append: a real request's batch is there.
  const response = await t.app.inject({ method: "POST", url: "/api/collect", payload: { batch: [item()] } });
  expect(response.statusCode).toBe(202);
  expect(await countRows(t)).toEqual({ batches: 1, stored: 0 });
});

describe.runIf(await shouldRunNatsTests("collector warm-up on JetStream"))("on JetStream", () => {
  it("appends nothing of the warm-up to the interaction stream", async () => {
    const streamName = `warmup_${randomBytes(6).toString("hex")}`;
    const t = await createTestApp({
      env: { ROLES: "collector", NATS_URL: TEST_NATS_URL, INTERACTIONS_STREAM: streamName },
      isWarmUpAwaited: false,
    });
    apps.push(t);
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const messages = async () => (await jsm.streams.info(streamName)).state.messages;
      expect((await readiness(t)).body.problems).toContain("warm-up");
      expect((await untilReady(t)).status).toBe(200);
      expect(await messages()).toBe(0);
      const response = await t.app.inject({
        method: "POST",
        url: "/api/collect",
        payload: { batch: [item()] },
      });
      expect(response.statusCode).toBe(202);
      expect(await messages()).toBe(1);
    } finally {
      await nc.close();
      await deleteNatsStream(streamName, { ifExists: true });
    }
  });
});
