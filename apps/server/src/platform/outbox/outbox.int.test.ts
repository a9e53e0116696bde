import { setTimeout as sleep } from "node:timers/promises";
import { DOMAIN_STREAM, DOMAIN_SUBJECTS, domainEventSchema, type DomainEvent } from "@turnout/contracts";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";
import { loadConfig } from "../../config.ts";
import type { Bus, BusMessage } from "../bus/bus.ts";
import { createMemoryBus } from "../bus/memory-bus.ts";
import type { Db } from "../db.ts";
import { createLogger } from "../logger.ts";
import { createMetrics } from "../metrics.ts";
import { applyOnce, consumeDomainEvents } from "./inbox.ts";
import { appendOutbox } from "./outbox.ts";
import { startOutboxRelay, type OutboxRelay, type OutboxRelayOptions, type RelayDeps } from "./relay.ts";

const SECRET = "outbox-test-secret-outbox-test-secret";
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  return database;
}

function relayDeps(database: TestDatabase, bus: Bus, pollMs = 1000): RelayDeps {
  const config = loadConfig({
    DATABASE_URL: database.url,
    OUTBOX_POLL_MS: String(pollMs),
    TOKEN_SECRET: SECRET,
    TICKET_SECRET: SECRET,
    URL_SIGNING_SECRET: SECRET,
  });
  return {
    db: database.db,
    databaseUrl: database.url,
    bus,
    config,
    log: createLogger("silent"),
    metrics: createMetrics(),
  };
}

async function startRelay(deps: RelayDeps, options?: OutboxRelayOptions): Promise<OutboxRelay> {
  const relay = await startOutboxRelay(deps, options);
  cleanups.push(() => relay.stop());
  return relay;
}

function memoryBus(): Bus {
  const bus = createMemoryBus();
  cleanups.push(() => bus.close());
  return bus;
}

// A durable consumer on the real bus that records every delivery, duplicates included.
async function recordDeliveries(bus: Bus): Promise<BusMessage[]> {
  const seen: BusMessage[] = [];
  await bus.ensureStream(DOMAIN_STREAM, DOMAIN_SUBJECTS);
  const sub = await bus.consume({ stream: DOMAIN_STREAM, name: "recorder", filter: "domain.>" }, (msg) => {
    seen.push(msg);
  });
  cleanups.push(() => sub.unsubscribe());
  return seen;
}

// The real bus, with publish failing for the first `failures` calls and every call counted.
function flakyBus(inner: Bus, failures = 0) {
  let calls = 0;
  const bus: Bus = {
    ...inner,
    publish: (msg) => {
      calls++;
      return calls <= failures ? Promise.reject(new Error(`injected failure ${calls}`)) : inner.publish(msg);
    },
  };
  return { bus, calls: () => calls, accepted: () => Math.max(0, calls - failures) };
}

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function unsentCount(db: Db): Promise<number> {
  const row = await db
    .selectFrom("outbox")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("sent_at", "is", null)
    .executeTakeFirstOrThrow();
  return row.n;
}

function append(db: Db, aggregateId: string, data: unknown): Promise<number> {
  return db
    .transaction()
    .execute((trx) =>
      appendOutbox(trx, { aggregateType: "event", aggregateId, type: "event.updated.v1", data }),
    );
}

const seqSchema = z.object({ seq: z.number() });
const ids = (messages: BusMessage[]) => messages.map((msg) => msg.id);

describe("appendOutbox and the relay", () => {
  it("publishes committed rows as domain-event envelopes and never the rows of a rolled-back transaction", async () => {
    const database = await freshDatabase();
    const bus = memoryBus();
    const seen = await recordDeliveries(bus);
    await startRelay(relayDeps(database, bus));

    await expect(
      database.db.transaction().execute(async (trx) => {
        await appendOutbox(trx, {
          aggregateType: "event",
          aggregateId: "e1",
          type: "event.cancelled.v1",
          data: {},
        });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    const kept = await append(database.db, "e1", [{ title: "array payloads stay JSON" }]);

    await waitFor("the committed row", () => seen.length >= 1);
    await sleep(200);
    expect(ids(seen)).toEqual([String(kept)]);
    const msg = seen[0];
    expect(msg?.subject).toBe("domain.event.updated.v1");
    const event = domainEventSchema.parse(msg?.data);
    expect(event).toMatchObject({
      id: String(kept),
      type: "event.updated.v1",
      aggregateType: "event",
      aggregateId: "e1",
      data: [{ title: "array payloads stay JSON" }],
    });
    expect(Date.parse(event.occurredAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await unsentCount(database.db)).toBe(0);
  });

  it("rejects an event type that is not a versioned dotted name", async () => {
    const database = await freshDatabase();
    await expect(append(database.db, "e1", {}).then(() => "ok")).resolves.toBe("ok");
    await expect(
      database.db
        .transaction()
        .execute((trx) =>
          appendOutbox(trx, { aggregateType: "event", aggregateId: "e1", type: "event.updated", data: {} }),
        ),
    ).rejects.toThrow(/versioned/);
  });

  it("is woken by NOTIFY within a second even when its polling interval is a minute", async () => {
    const database = await freshDatabase();
    const bus = memoryBus();
    const seen = await recordDeliveries(bus);
    await startRelay(relayDeps(database, bus, 60_000));
    await append(database.db, "e1", { n: 1 });
    await waitFor("the first row", () => seen.length === 1);

    const startedAt = performance.now();
    await append(database.db, "e1", { n: 2 });
    await waitFor("the second row", () => seen.length === 2, 1_000);
    expect(performance.now() - startedAt).toBeLessThan(1_000);
  });

  it("finds rows whose NOTIFY was missed by polling", async () => {
    const database = await freshDatabase();
    const bus = memoryBus();
    const seen = await recordDeliveries(bus);
    await startRelay(relayDeps(database, bus, 200));
    await append(database.db, "e1", { n: 1 });
    await waitFor(
      "the relay to go idle",
      async () => seen.length === 1 && (await unsentCount(database.db)) === 0,
    );
    // Written without pg_notify, as if the notification had been lost.
    await sql`INSERT INTO outbox (aggregate_type, aggregate_id, type, subject, payload)
              VALUES ('event', 'e1', 'event.updated.v1', 'domain.event.updated.v1', '{}')`.execute(
      database.db,
    );
    await waitFor("the silently written row", () => seen.length === 2, 2_000);
  });

  it("keeps the order of each aggregate over concurrent writers and many batches", async () => {
    const database = await freshDatabase();
    const bus = memoryBus();
    const seen = await recordDeliveries(bus);
    await startRelay(relayDeps(database, bus, 50), { batchSize: 7 });
    const aggregates = ["a", "b", "c", "d", "e"];
    const perAggregate = 60;
    // One sequential writer per aggregate (as a row lock would serialise them); the five interleave.
    await Promise.all(
      aggregates.map(async (aggregateId) => {
        for (let seq = 0; seq < perAggregate; seq++) await append(database.db, aggregateId, { seq });
      }),
    );
    await waitFor("every row", () => seen.length >= aggregates.length * perAggregate);
    expect(new Set(ids(seen)).size).toBe(aggregates.length * perAggregate);
    for (const aggregateId of aggregates) {
      const events = seen
        .map((msg) => domainEventSchema.parse(msg.data))
        .filter((event) => event.aggregateId === aggregateId);
      expect(events.map((event) => seqSchema.parse(event.data).seq)).toEqual([...Array(perAggregate).keys()]);
    }
  });

  it("retries a failing publish with backoff, skips nothing and keeps the backlog gauge current", async () => {
    const database = await freshDatabase();
    const inner = memoryBus();
    const seen = await recordDeliveries(inner);
    const written: number[] = [];
    for (let n = 0; n < 20; n++) written.push(await append(database.db, `e${n % 3}`, { n }));
    const flaky = flakyBus(inner, 4);
    const deps = relayDeps(database, flaky.bus);
    await startRelay(deps);

    const backlog = async () => (await deps.metrics.outboxBacklog.get()).values[0]?.value;
    await waitFor("the gauge to show the backlog", async () => (await backlog()) === 20);
    await waitFor("every row", async () => (await unsentCount(database.db)) === 0);
    expect(ids(seen).sort((a, b) => Number(a) - Number(b))).toEqual(written.map(String));
    for (const aggregateId of ["e0", "e1", "e2"]) {
      const ofAggregate = seen
        .map((msg) => domainEventSchema.parse(msg.data))
        .filter((event) => event.aggregateId === aggregateId);
      const order = ofAggregate.map((event) => Number(event.id));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    expect(flaky.calls()).toBe(20 + 4);
    await waitFor("the gauge to drop to zero", async () => (await backlog()) === 0);
  });

  it("lets only one of two relays on a database publish, and the other take over when it stops", async () => {
    const database = await freshDatabase();
    const inner = memoryBus();
    const seen = await recordDeliveries(inner);
    const first = flakyBus(inner);
    const second = flakyBus(inner);
    const relays = await Promise.all([
      startRelay(relayDeps(database, first.bus, 50)),
      startRelay(relayDeps(database, second.bus, 50)),
    ]);
    // Writers race both relays, which are both polling and both woken by every NOTIFY.
    await Promise.all(
      [0, 1, 2, 3].map(async (writer) => {
        for (let n = 0; n < 75; n++) await append(database.db, `w${writer}`, { n });
      }),
    );
    await waitFor("every row", async () => (await unsentCount(database.db)) === 0);
    expect(seen).toHaveLength(300);
    expect(new Set(ids(seen)).size).toBe(300);
    const counts = [first.accepted(), second.accepted()];
    expect(counts.filter((count) => count > 0)).toEqual([300]);

    const activeIndex = counts[0] === 300 ? 0 : 1;
    const standby = activeIndex === 0 ? second : first;
    await relays[activeIndex].stop();
    for (let n = 0; n < 10; n++) await append(database.db, "after", { n });
    await waitFor("the standby to take over", async () => (await unsentCount(database.db)) === 0, 5_000);
    expect(standby.accepted()).toBe(10);
    expect(seen).toHaveLength(310);
  });
});

describe("the inbox", () => {
  it("applies a message delivered many times at once exactly once per consumer", async () => {
    const database = await freshDatabase();
    const { db } = database;
    await sql`CREATE TABLE effects (consumer text PRIMARY KEY, n int NOT NULL)`.execute(db);
    const bump = (consumer: string) =>
      applyOnce(db, consumer, "42", async (trx) => {
        await sql`INSERT INTO effects VALUES (${consumer}, 1) ON CONFLICT (consumer) DO UPDATE SET n = effects.n + 1`.execute(
          trx,
        );
      });

    const results = await Promise.all(Array.from({ length: 20 }, () => bump("mailer")));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await bump("mailer")).toBe(false);
    expect(await bump("realtime")).toBe(true);
    const rows = await sql<{
      consumer: string;
      n: number;
    }>`SELECT consumer, n FROM effects ORDER BY consumer`.execute(db);
    expect(rows.rows).toEqual([
      { consumer: "mailer", n: 1 },
      { consumer: "realtime", n: 1 },
    ]);
  });

  it("records nothing when the effect fails, so a redelivery applies it", async () => {
    const { db } = await freshDatabase();
    await expect(applyOnce(db, "mailer", "7", () => Promise.reject(new Error("smtp down")))).rejects.toThrow(
      "smtp down",
    );
    expect(await applyOnce(db, "mailer", "7", () => Promise.resolve())).toBe(true);
    expect(await applyOnce(db, "mailer", "7", () => Promise.resolve())).toBe(false);
  });

  it("runs a domain-event handler once per event id however often the bus delivers it", async () => {
    const database = await freshDatabase();
    const bus = memoryBus();
    const handled: DomainEvent[] = [];
    const deps = relayDeps(database, bus);
    const sub = await consumeDomainEvents(deps, { name: "counter", filter: "domain.event.>" }, (event) => {
      handled.push(event);
      return Promise.resolve();
    });
    cleanups.push(() => sub.unsubscribe());
    await startRelay(deps);
    const id = await append(database.db, "e1", { title: "x" });
    await waitFor("the relayed event", () => handled.length === 1);
    const again = { subject: "domain.event.updated.v1", id: String(id), data: handled[0] };
    await bus.publish(again);
    await bus.publish(again);
    await bus.publish({ subject: "domain.event.updated.v1", id: "junk", data: { not: "an envelope" } });
    expect(handled.map((event) => event.id)).toEqual([String(id)]);
    const inbox = await database.db.selectFrom("inbox").selectAll().execute();
    expect(inbox.map((row) => [row.consumer, row.message_id])).toEqual([["counter", String(id)]]);
  });
});
