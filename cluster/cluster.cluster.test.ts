import type { ServerFrame } from "@turnout/contracts";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { shouldRunNatsTests, TEST_NATS_URL } from "../apps/server/test/nats.ts";
import { messagesOn, openPeer, subscribe, type Peer } from "../apps/server/test/realtime.support.ts";
import { startSmtpPeer, type SmtpPeer } from "../apps/server/test/smtp-peer.ts";
import {
  call,
  countUnsentOutbox,
  createPublishedEvent,
  startCluster,
  type Cluster,
} from "./support/cluster.ts";

/*
 * The cluster tier (ADR 0023): two api+realtime nodes, a collector and a worker as real processes on one
 * PostgreSQL and the machine's NATS (streams and subjects of this run's own), behind a round-robin proxy.
 */

const runs = await shouldRunNatsTests("cluster tier (two api+realtime nodes, collector, worker)");

describe.runIf(runs)("a cluster of real processes on the machine's NATS", () => {
  let cluster: Cluster;
  // The worker's mail relay: a real SMTP server in this process.
  let smtp: SmtpPeer;
  let organizer: { user: { id: string }; accessToken: string };
  const peers: Peer[] = [];
  // What beforeAll started, undone in reverse by afterAll (also when the start failed half-way).
  const teardown: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    const started = performance.now();
    smtp = await startSmtpPeer();
    teardown.push(() => smtp.close());
    cluster = await startCluster({
      adminUrl: inject("adminDatabaseUrl"),
      natsUrl: TEST_NATS_URL,
      env: { SMTP_URL: smtp.url },
    });
    teardown.push(() => cluster.stop());
    const [admin] = await cluster.createUsers(1, "admin");
    if (admin === undefined) throw new Error("no organizer");
    organizer = admin;
    process.stderr.write(
      `cluster: started in ${Math.round(performance.now() - started)} ms (ready after spawn, ms: ${JSON.stringify(cluster.startupMs)})\n`,
    );
  });
  afterAll(async () => {
    for (const peer of peers) peer.close();
    for (const step of teardown.reverse()) await step();
  });

  it("reports ready on every node, each for the dependencies of its roles", async () => {
    for (const name of ["a", "b", "collector", "worker"] as const) {
      expect(await call(cluster.url(name), "GET", "/readyz"), name).toEqual({
        status: 200,
        body: { status: "ready", problems: [] },
      });
    }
    // The worker serves no API; the collector serves no events.
    expect((await call(cluster.url("worker"), "GET", "/api/events")).status).toBe(404);
    expect((await call(cluster.url("collector"), "GET", "/api/events")).status).toBe(404);
  });

  it("never oversells when joins race through both nodes", async () => {
    const capacity = 10;
    const eventId = await createPublishedEvent(cluster.proxy.url, organizer.accessToken, capacity);
    const crowd = await cluster.createUsers(60);
    const servedBefore = new Map(cluster.proxy.served);
    const started = performance.now();
    const answers = await Promise.all(
      crowd.map(({ accessToken }) =>
        call<{ status: string; waitlistPosition: number | null }>(
          cluster.proxy.url,
          "POST",
          `/api/events/${eventId}/join`,
          { token: accessToken },
        ),
      ),
    );
    const joinMs = Math.round(performance.now() - started);
    for (const port of [cluster.port("a"), cluster.port("b")]) {
      const took = (cluster.proxy.served.get(port) ?? 0) - (servedBefore.get(port) ?? 0);
      expect(took, `joins served by the node on port ${port}`).toBe(30);
    }
    expect(answers.map(({ status }) => status)).toEqual(crowd.map(() => 201));
    const statuses = answers.map(({ body }) => body.status);
    expect(statuses.filter((status) => status === "confirmed")).toHaveLength(capacity);
    expect(statuses.filter((status) => status === "waitlisted")).toHaveLength(50);
    const positions = answers.flatMap(({ body }) =>
      body.waitlistPosition === null ? [] : [body.waitlistPosition],
    );
    expect(positions.sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
    const rows = await cluster.db
      .selectFrom("participations")
      .select(["status", sql<number>`count(*)::int`.as("count")])
      .where("event_id", "=", eventId)
      .groupBy("status")
      .execute();
    expect(Object.fromEntries(rows.map(({ status, count }) => [status, count]))).toEqual({
      confirmed: capacity,
      waitlisted: 50,
    });
    for (const name of ["a", "b"] as const) {
      const stats = await call(cluster.url(name), "GET", `/api/events/${eventId}/stats`);
      expect(stats.body, name).toEqual({ capacity, confirmed: capacity, waitlisted: 50, checkedIn: 0 });
    }
    process.stderr.write(`cluster: 60 concurrent joins through the proxy in ${joinMs} ms\n`);
  });

  it("shows a WebSocket client on node A the changes made through node B", async () => {
    const eventId = await createPublishedEvent(cluster.url("b"), organizer.accessToken, 5);
    const [joiner] = await cluster.createUsers(1);
    if (joiner === undefined) throw new Error("no joiner");
    const onA = await openPeer(`ws://127.0.0.1:${cluster.port("a")}/api/realtime`, joiner.accessToken);
    const throughProxy = await openPeer(`${cluster.proxy.url.replace("http", "ws")}/api/realtime`);
    peers.push(onA, throughProxy);
    expect(await subscribe(onA, `event:${eventId}`)).toMatchObject({ type: "subscribed" });
    expect(await subscribe(onA, `user:${joiner.user.id}`)).toMatchObject({ type: "subscribed" });
    expect(await subscribe(throughProxy, `event:${eventId}`)).toMatchObject({ type: "subscribed" });

    const started = performance.now();
    const joined = await call(cluster.url("b"), "POST", `/api/events/${eventId}/join`, {
      token: joiner.accessToken,
    });
    expect(joined.status).toBe(201);
    const isStats = (frame: ServerFrame) =>
      frame.type === "message" &&
      frame.event.type === "stats.changed.v1" &&
      (frame.event.data as { confirmed?: number }).confirmed === 1;
    await onA.next(isStats, { timeoutMs: 15_000 });
    const fanOutMs = Math.round(performance.now() - started);
    await throughProxy.next(isStats, { timeoutMs: 15_000 });
    const mine = await onA.next(
      (frame) => frame.type === "message" && frame.event.type === "participation.changed.v1",
      { timeoutMs: 15_000 },
    );
    expect(mine).toMatchObject({ event: { data: { eventId, userId: joiner.user.id, status: "confirmed" } } });
    // Numbered once for the channel, whichever node's sequencer took it: both watchers see the same position.
    const seqOf = (peer: Peer) => messagesOn(peer, `event:${eventId}`).find(isStats)?.seq;
    expect(seqOf(onA)).toBeDefined();
    expect(seqOf(throughProxy)).toBe(seqOf(onA));
    process.stderr.write(`cluster: join on node B seen on node A's WebSocket after ${fanOutMs} ms\n`);
  });

  it("makes interactions posted to the collector queryable through node A", async () => {
    const eventId = await createPublishedEvent(cluster.url("a"), organizer.accessToken, 5);
    const ids = Array.from({ length: 25 }, (_, index) => `cluster-${eventId}-${index}`);
    const posted = await call<{ accepted: number }>(cluster.url("collector"), "POST", "/api/collect", {
      body: {
        batch: ids.map((id) => ({
          id,
          type: "track",
          name: "cluster_checked",
          timestamp: new Date().toISOString(),
          anonymousId: "anon-cluster",
          properties: { eventId },
        })),
      },
    });
    expect(posted).toMatchObject({ status: 202, body: { accepted: 25 } });
    const started = performance.now();
    const query = () =>
      call<{ items: { id: string }[] }>(
        cluster.url("a"),
        "GET",
        `/api/analytics/interactions?eventId=${eventId}&limit=100`,
        { token: organizer.accessToken },
      );
    await expect.poll(async () => (await query()).body.items.length, { timeout: 30_000 }).toBe(25);
    const loadMs = Math.round(performance.now() - started);
    expect((await query()).body.items.map(({ id }) => id).sort()).toEqual([...ids].sort());
    process.stderr.write(
      `cluster: 25 interactions queryable on node A ${loadMs} ms after the collector's 202\n`,
    );
  });

  it("loses no outbox message and notifies or mails nobody twice when the worker is killed with SIGKILL", async () => {
    const eventId = await createPublishedEvent(cluster.proxy.url, organizer.accessToken, 100);
    const crowd = await cluster.createUsers(40);
    const join = (user: { accessToken: string }) =>
      call(cluster.proxy.url, "POST", `/api/events/${eventId}/join`, { token: user.accessToken });
    // Joins under way while the worker relays and applies them; it dies in the middle.
    const first = Promise.all(crowd.slice(0, 20).map(join));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await cluster.crash("worker");
    const unsentAtCrash = await countUnsentOutbox(cluster.db);
    expect((await first).map(({ status }) => status)).toEqual(crowd.slice(0, 20).map(() => 201));
    // The API keeps taking joins with no worker at all: their events wait in the outbox.
    const second = await Promise.all(crowd.slice(20).map(join));
    expect(second.map(({ status }) => status)).toEqual(crowd.slice(20).map(() => 201));
    expect(await countUnsentOutbox(cluster.db)).toBeGreaterThan(0);

    const restartedAt = performance.now();
    await cluster.restart("worker");
    // An event the dead worker had taken but not acknowledged comes back after the consumer's ack wait (30 s).
    await expect.poll(() => countUnsentOutbox(cluster.db), { timeout: 60_000, interval: 500 }).toBe(0);
    const perPerson = () =>
      cluster.db
        .selectFrom("notifications")
        .select(["user_id", sql<number>`count(*)::int`.as("count")])
        .where("event_id", "=", eventId)
        .where("kind", "=", "participation.confirmed")
        .groupBy("user_id")
        .execute();
    await expect.poll(async () => (await perPerson()).length, { timeout: 90_000, interval: 500 }).toBe(40);
    const notified = await perPerson();
    expect(notified.map(({ user_id }) => user_id).sort()).toEqual(crowd.map(({ user }) => user.id).sort());
    expect(notified.filter(({ count }) => count !== 1)).toEqual([]);
    // Every domain event reaches the notification consumer's inbox, each once (its key is the message id).
    const outboxIds = (await cluster.db.selectFrom("outbox").select("id").execute()).map(({ id }) =>
      String(id),
    );
    const applied = async () =>
      (
        await cluster.db
          .selectFrom("inbox")
          .select("message_id")
          .where("consumer", "=", "notifications-triggers")
          .execute()
      ).map(({ message_id }) => message_id);
    await expect
      .poll(async () => (await applied()).sort(), { timeout: 60_000, interval: 500 })
      .toEqual(outboxIds.sort());
    const drainMs = Math.round(performance.now() - restartedAt);
    // And each of the 40 got exactly one mail (their join confirmed) through the SMTP relay, none twice.
    const crowdAddresses = new Set(crowd.map(({ user }) => `crowd-${user.id}@example.test`));
    const mailsToCrowd = () =>
      smtp.received.flatMap((mail) => mail.envelopeTo).filter((to) => crowdAddresses.has(to));
    await expect.poll(() => mailsToCrowd().length, { timeout: 60_000, interval: 500 }).toBe(40);
    expect(new Set(mailsToCrowd()).size).toBe(40);
    process.stderr.write(
      `cluster: worker SIGKILLed with ${unsentAtCrash} outbox rows unsent; restarted and drained in ${drainMs} ms\n`,
    );
  });
});
