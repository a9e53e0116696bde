import type { ServerFrame } from "@turnout/contracts";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { messagesOn, openPeer, subscribe, type Peer } from "../apps/server/test/realtime.support.ts";
import {
  call,
  countUnsentOutbox,
  createPublishedEvent,
  startCluster,
  type Cluster,
  type NodeName,
} from "./support/cluster.ts";
import { shouldRunPrivateNats, startPrivateNats, type PrivateNats } from "./support/nats-server.ts";

/*
 * NATS down for 10 s under a running cluster (ADR 0023). The cluster runs on a nats-server of its own, never
 * the machine's shared one: stopping that would break everyone else's tests.
 */

const OUTAGE_MS = 10_000;
const runs = shouldRunPrivateNats("cluster tier: NATS outage");

describe.runIf(runs)("a cluster whose NATS stops for 10 s", () => {
  let nats: PrivateNats;
  let cluster: Cluster;
  const peers: Peer[] = [];
  // What beforeAll started, undone in reverse by afterAll (also when the start failed half-way).
  const teardown: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    nats = await startPrivateNats();
    teardown.push(() => nats.destroy());
    cluster = await startCluster({ adminUrl: inject("adminDatabaseUrl"), natsUrl: nats.url });
    teardown.push(() => cluster.stop());
  });
  afterAll(async () => {
    for (const peer of peers) peer.close();
    for (const step of teardown.reverse()) await step();
  });

  it("reports it on /readyz meanwhile, keeps taking joins, then drains the outbox and resumes clients", async () => {
    const [organizer] = await cluster.createUsers(1, "admin");
    if (organizer === undefined) throw new Error("no organizer");
    const eventId = await createPublishedEvent(cluster.proxy.url, organizer.accessToken, 50);
    const crowd = await cluster.createUsers(10);
    const channel = `event:${eventId}`;
    const peer = await openPeer(`ws://127.0.0.1:${cluster.port("a")}/api/realtime`);
    peers.push(peer);
    const subscribed = await subscribe(peer, channel);
    if (subscribed.type !== "subscribed") throw new Error(`not subscribed: ${JSON.stringify(subscribed)}`);
    const seqBefore = subscribed.seq;

    await nats.stop();
    const stoppedAt = performance.now();
    // Every role needs the bus in cluster mode (the api nodes for their realtime role): all say so, and why.
    const names: NodeName[] = ["a", "b", "collector", "worker"];
    for (const name of names) {
      await expect
        .poll(async () => (await call(cluster.url(name), "GET", "/readyz")).status, { timeout: 5_000 })
        .toBe(503);
      expect((await call(cluster.url(name), "GET", "/readyz")).body, name).toEqual({
        status: "unready",
        problems: ["bus"],
      });
    }
    // The API writes to PostgreSQL alone: joins go on, their events wait in the outbox.
    const joins = await Promise.all(
      crowd.map(({ accessToken }) =>
        call(cluster.proxy.url, "POST", `/api/events/${eventId}/join`, { token: accessToken }),
      ),
    );
    expect(joins.map(({ status }) => status)).toEqual(crowd.map(() => 201));
    const announced: string[] = [];
    for (const message of ["Doors open at six", "Bring your ticket"]) {
      const posted = await call<{ id: string }>(
        cluster.proxy.url,
        "POST",
        `/api/events/${eventId}/announcements`,
        {
          token: organizer.accessToken,
          body: { message },
        },
      );
      expect(posted.status).toBe(201);
      announced.push(posted.body.id);
    }
    const waiting = await countUnsentOutbox(cluster.db);
    expect(waiting).toBeGreaterThanOrEqual(crowd.length);
    const readyDuringOutage = await call(cluster.url("a"), "GET", "/readyz");
    expect(readyDuringOutage.status).toBe(503);

    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, OUTAGE_MS - (performance.now() - stoppedAt))),
    );
    await nats.start();
    const restartedAt = performance.now();
    for (const name of names) {
      await expect
        .poll(async () => (await call(cluster.url(name), "GET", "/readyz")).status, { timeout: 30_000 })
        .toBe(200);
    }
    const readyMs = Math.round(performance.now() - restartedAt);
    await expect.poll(() => countUnsentOutbox(cluster.db), { timeout: 60_000, interval: 500 }).toBe(0);
    const drainMs = Math.round(performance.now() - restartedAt);
    const notified = () =>
      cluster.db
        .selectFrom("notifications")
        .select([
          sql<number>`count(*)::int`.as("all"),
          sql<number>`count(distinct user_id)::int`.as("people"),
        ])
        .where("event_id", "=", eventId)
        .where("kind", "=", "participation.confirmed")
        .executeTakeFirstOrThrow();
    await expect.poll(notified, { timeout: 30_000 }).toEqual({ all: crowd.length, people: crowd.length });

    // The client that stayed connected gets what happened during the outage, in order: every announcement,
    // and the latest stats (snapshots in between may be coalesced, ADR 0013).
    const isAllJoined = (frame: ServerFrame) =>
      frame.type === "message" &&
      frame.event.type === "stats.changed.v1" &&
      (frame.event.data as { confirmed?: number }).confirmed === crowd.length;
    await peer.next(isAllJoined, { timeoutMs: 30_000 });
    const announcementsOf = (watcher: Peer) =>
      messagesOn(watcher, channel).flatMap(({ event }) =>
        event.type === "announcement.posted.v1"
          ? [(event.data as { announcement: { id: string } }).announcement.id]
          : [],
      );
    await expect.poll(() => announcementsOf(peer), { timeout: 30_000 }).toEqual(announced);
    const seqs = messagesOn(peer, channel).map(({ seq }) => seq);
    expect(seqs[0]).toBeGreaterThan(seqBefore);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    // A client that reconnects (here through the proxy) resumes from its last position and misses nothing.
    const resumed = await openPeer(`${cluster.proxy.url.replace("http", "ws")}/api/realtime`);
    peers.push(resumed);
    const lastSeq = Math.max(...seqs);
    expect(await subscribe(resumed, channel, seqBefore)).toMatchObject({ type: "subscribed", seq: lastSeq });
    expect(announcementsOf(resumed)).toEqual(announced);
    expect(messagesOn(resumed, channel).at(-1)?.seq).toBe(lastSeq);
    process.stderr.write(
      `cluster: NATS down ${OUTAGE_MS} ms with ${waiting} outbox rows waiting; all nodes ready ${readyMs} ms and outbox drained ${drainMs} ms after its restart\n`,
    );
  });
});
