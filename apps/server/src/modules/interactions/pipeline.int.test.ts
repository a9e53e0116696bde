import { randomBytes, randomUUID } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Analytics } from "@segment/analytics-node";
import { interactionSchema } from "@turnout/contracts";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, createUser } from "../../../test/factories.ts";
import { deleteNatsStream, shouldRunNatsTests, TEST_NATS_URL } from "../../../test/nats.ts";
import { createDb } from "../../platform/db.ts";
import type { Database } from "../../platform/db-schema.ts";
import { maintainPartitions, startInteractionProcessor } from "./index.ts";
import { appendedBatchOf } from "./interaction-stream.ts";

// Collector -> stream -> processor -> interactions table, in both modes: embedded (the PostgreSQL stream)
// and cluster (JetStream). What the collector accepted is stored exactly once.

const runNats = await shouldRunNatsTests("interaction pipeline on JetStream");
const streamName = `interactions_test_${randomBytes(6).toString("hex")}`;
const modes = [
  { mode: "embedded (PostgreSQL stream)", env: {} as Record<string, string> },
  ...(runNats
    ? [{ mode: "cluster (JetStream)", env: { NATS_URL: TEST_NATS_URL, INTERACTIONS_STREAM: streamName } }]
    : []),
];

afterAll(async () => {
  if (runNats) await deleteNatsStream(streamName, { ifExists: true });
});

function interaction(overrides: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    type: "track",
    name: "clicked",
    timestamp: new Date(Date.now() - 5_000).toISOString(),
    anonymousId: "anon-1",
    sessionId: "session-1",
    properties: { eventId: "00000000-0000-7000-8000-00000000abcd" },
    context: { page: { path: "/events/1", referrer: "https://search.test/" } },
    ...overrides,
  };
}

describe.each(modes)("$mode", ({ env }) => {
  let t: TestApp;
  let processor: { stop(): Promise<void> };
  let baseUrl: string;
  beforeAll(async () => {
    t = await createTestApp({ env: { ...env, SOURCES_REFRESH_MS: "100" } });
    processor = await startInteractionProcessor(t.deps);
    baseUrl = await t.app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await processor.stop();
    await t.close();
  });

  const countStored = async (ids: string[]) => {
    const { rows } = await sql<{ count: number }>`
      SELECT count(*)::int AS count FROM interactions WHERE id = ANY(${ids}::text[])`.execute(t.deps.db);
    return rows[0]?.count ?? 0;
  };

  /** Appends a message as a collector of an earlier release wrote it, in this mode's stream. */
  const appendAsEarlierRelease = async (message: { table: string; jetstream: string }) => {
    if (env.NATS_URL === undefined) {
      await t.deps.db.insertInto("interaction_batches").values({ items: message.table }).execute();
      return;
    }
    const nc = await connect({ servers: env.NATS_URL });
    try {
      await jetstream(nc).publish(`${streamName}.batch`, message.jetstream, { msgID: randomUUID() });
    } finally {
      await nc.close();
    }
  };

  /** Waits until every id is stored once, then checks that each row has exactly `expected`'s columns. */
  const expectStoredAs = async (ids: string[], expected: Record<string, string>) => {
    await expect.poll(() => countStored(ids), { timeout: 15_000 }).toBe(ids.length);
    const columns = Object.keys(expected) as (keyof Database["interactions"])[];
    const rows = await t.deps.db.selectFrom("interactions").select(columns).where("id", "in", ids).execute();
    expect(rows).toHaveLength(ids.length);
    for (const row of rows) expect(row).toEqual(expected);
  };

  it("stores every accepted interaction once, also when a batch is sent twice", async () => {
    const batch = Array.from({ length: 120 }, () => interaction());
    const ids = batch.map((item) => item.id);
    for (let round = 0; round < 2; round++) {
      const response = await t.app.inject({ method: "POST", url: "/api/collect", payload: { batch } });
      expect(response.statusCode, response.body).toBe(202);
    }
    const repeated = [batch[0], batch[0]];
    await t.app.inject({ method: "POST", url: "/api/collect", payload: { batch: repeated } });
    await expect.poll(() => countStored(ids), { timeout: 15_000 }).toBe(120);
    const row = await t.deps.db
      .selectFrom("interactions")
      .selectAll()
      .where("id", "=", ids[0] ?? "")
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      type: "track",
      name: "clicked",
      event_id: "00000000-0000-7000-8000-00000000abcd",
      path: "/events/1",
      referrer: "https://search.test/",
      anonymous_id: "anon-1",
    });
    const metrics = await t.deps.metrics.registry.getSingleMetricAsString("interactions_total");
    expect(metrics).toMatch(/interactions_total\{stage="accepted"\} 242/);
    const loadedCount = async () =>
      (await t.deps.metrics.registry.getMetricsAsJSON())
        .find((metric) => metric.name === "interactions_total")
        ?.values.find((value) => value.labels.stage === "loaded")?.value;
    await expect.poll(loadedCount).toBe(120);
  });

  it("loads the batches of format 1 (stamps in every item) that a collector of an earlier release appended", async () => {
    const stamped = (id: string) => ({
      ...interaction({ id }),
      sourceId: "00000000-0000-7000-8000-000000000001",
      receivedAt: new Date().toISOString(),
      ip: "203.0.113.0",
      device: "desktop",
      browser: "Firefox",
      os: "Linux",
    });
    const ids = Array.from({ length: 30 }, () => randomUUID());
    const items = ids.map(stamped);
    // interaction_batches held a bare array of stamped items; JetStream messages {items}.
    await appendAsEarlierRelease({ table: JSON.stringify(items), jetstream: JSON.stringify({ items }) });
    await expectStoredAs(ids, {
      browser: "Firefox",
      ip: "203.0.113.0",
      source_id: "00000000-0000-7000-8000-000000000001",
      event_id: "00000000-0000-7000-8000-00000000abcd",
      referrer: "https://search.test/",
    });
  });

  it("loads the batches of format 2 (stamps once per batch) that a collector of an earlier release appended", async () => {
    const stamp = {
      sourceId: "00000000-0000-7000-8000-000000000001",
      receivedAt: new Date().toISOString(),
      ip: "203.0.113.0",
      device: "desktop",
      browser: "Safari",
      os: "macOS",
    };
    const ids = Array.from({ length: 30 }, () => randomUUID());
    const message = JSON.stringify({ v: 2, stamp, interactions: ids.map((id) => interaction({ id })) });
    await appendAsEarlierRelease({ table: message, jetstream: message });
    await expectStoredAs(ids, {
      browser: "Safari",
      os: "macOS",
      ip: "203.0.113.0",
      event_id: "00000000-0000-7000-8000-00000000abcd",
      path: "/events/1",
    });
  });

  it("stores what the official Segment library (@segment/analytics-node) sends to Turnout's host", async () => {
    const admin = await createUser(t, { role: "admin" });
    const created = await t.app.inject({
      method: "POST",
      url: "/api/admin/sources",
      headers: bearer(admin),
      payload: { name: "Backend via Segment SDK" },
    });
    const source = created.json<{ id: string; writeKey: string }>();
    // The new key reaches the collector's memory within SOURCES_REFRESH_MS.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const analytics = new Analytics({
      writeKey: source.writeKey,
      host: baseUrl,
      flushInterval: 100,
      maxRetries: 3,
    });
    const failures: unknown[] = [];
    analytics.on("error", (error) => failures.push(error));
    const runId = randomUUID();
    analytics.track({
      userId: "segment-user",
      event: "joined",
      properties: { runId, eventId: randomUUID() },
    });
    analytics.page({
      anonymousId: "segment-anon",
      name: "Event page",
      properties: { runId, path: "/events/9" },
    });
    analytics.identify({ userId: "segment-user", traits: { runId, plan: "pro" } });
    analytics.screen({ userId: "segment-user", name: "Home", properties: { runId } });
    await analytics.closeAndFlush({ timeout: 10_000 });
    expect(failures).toEqual([]);

    const stored = async () =>
      t.deps.db
        .selectFrom("interactions")
        .select(["type", "name", "user_id", "anonymous_id", "source_id", "browser"])
        .where(sql<boolean>`properties->>'runId' = ${runId}`)
        .orderBy("type")
        .orderBy("name")
        .execute();
    await expect.poll(async () => (await stored()).length, { timeout: 15_000 }).toBe(4);
    const rows = await stored();
    expect(rows.every((row) => row.source_id === source.id && row.browser === "Server SDK")).toBe(true);
    expect(rows.map((row) => [row.type, row.name, row.user_id])).toEqual([
      ["identify", null, "segment-user"],
      ["page", "Event page", null],
      ["page", "Home", "segment-user"],
      ["track", "joined", "segment-user"],
    ]);
  });
});

describe("poison in the stream", () => {
  let t: TestApp;
  let processor: { stop(): Promise<void> };
  beforeAll(async () => {
    t = await createTestApp();
    processor = await startInteractionProcessor(t.deps);
  });
  afterAll(async () => {
    await processor.stop();
    await t.close();
  });

  it("goes to interactions_dead while the good items of the same batch are loaded", async () => {
    const good = {
      ...interaction(),
      sourceId: "00000000-0000-7000-8000-000000000001",
      receivedAt: new Date().toISOString(),
      ip: null,
      device: "desktop",
      browser: "Chrome",
      os: "Linux",
    };
    const ancient = { ...good, id: randomUUID(), timestamp: "2001-01-01T00:00:00.000Z" };
    const poison = { id: "poison", surprise: true };
    await t.deps.db
      .insertInto("interaction_batches")
      .values({ items: JSON.stringify([poison, good, "text", ancient]) })
      .execute();
    await expect
      .poll(async () => (await t.deps.db.selectFrom("interactions_dead").select("item").execute()).length, {
        timeout: 15_000,
      })
      .toBe(3);
    const loaded = await t.deps.db
      .selectFrom("interactions")
      .select("id")
      .where("id", "=", good.id)
      .execute();
    expect(loaded).toHaveLength(1);
    expect(await t.deps.db.selectFrom("interaction_batches").select("seq").execute()).toEqual([]);
  });

  it("loads a batch of format 3 (COPY lines) row by row when PostgreSQL refuses one line, and routes a batch across midnight", async () => {
    const stamp = {
      sourceId: "00000000-0000-7000-8000-000000000001",
      receivedAt: new Date().toISOString(),
      ip: null,
      device: "desktop",
      browser: "Chrome",
      os: "Linux",
    };
    const checked = (overrides: Record<string, unknown> = {}) =>
      interactionSchema.parse(interaction(overrides));
    const now = checked();
    const refused = checked();
    const yesterday = checked({ timestamp: new Date(Date.now() - 86_400_000).toISOString() });
    const oneDay = appendedBatchOf(stamp, [now, refused]);
    // A line whose source is not a UUID: the whole COPY fails, and only that line is dead-lettered.
    oneDay.lines[1] = (oneDay.lines[1] ?? "").replace(stamp.sourceId, "not-a-uuid");
    const twoDays = appendedBatchOf(stamp, [yesterday, checked({ timestamp: now.timestamp })]);
    const row = (batch: typeof oneDay) =>
      JSON.stringify({ v: 3, hours: [...new Set(batch.hours)], copy: batch.lines.join("") });
    await t.deps.db
      .insertInto("interaction_batches")
      .values([{ items: row(oneDay) }, { items: row(twoDays) }])
      .execute();
    const ids = [now.id, refused.id, yesterday.id];
    await expect
      .poll(() => t.deps.db.selectFrom("interaction_batches").select("seq").execute(), {
        timeout: 15_000,
      })
      .toEqual([]);
    const stored = await t.deps.db.selectFrom("interactions").select("id").where("id", "in", ids).execute();
    expect(stored.map((entry) => entry.id).sort()).toEqual([now.id, yesterday.id].sort());
    const dead = await sql<{ id: string; source: string }>`
      SELECT item->>'id' AS id, item->>'source_id' AS source FROM interactions_dead
      WHERE item->>'id' = ANY(${ids}::text[])`.execute(t.deps.db);
    expect(dead.rows).toEqual([{ id: refused.id, source: "not-a-uuid" }]);
  });

  it("keeps day partitions a week ahead and drops those past the retention", async () => {
    const { rows } = await sql<{ relname: string }>`
      SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'interactions'::regclass ORDER BY c.relname`.execute(t.deps.db);
    const names = rows.map((row) => row.relname);
    const day = (offset: number) =>
      `interactions_${new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10).replaceAll("-", "")}`;
    expect(names).toContain(day(0));
    expect(names).toContain(day(7));
    await sql`SELECT ensure_interaction_partition((now() - interval '200 days')::date)`.execute(t.deps.db);
    const { pool, close } = createDb(t.database.url, 1);
    try {
      await maintainPartitions(pool, new Date(), 90);
    } finally {
      await close();
    }
    const after = await sql<{ relname: string }>`
      SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'interactions'::regclass`.execute(t.deps.db);
    expect(after.rows.map((row) => row.relname)).not.toContain(day(-200));
    expect(after.rows.map((row) => row.relname)).toContain(day(0));
  });
});
