import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";
import { createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { deleteNatsStream, shouldRunNatsTests, TEST_NATS_URL } from "../../../test/nats.ts";
import {
  type LiveApp,
  messagesOn,
  openPeer,
  type Peer,
  startNode,
  subscribe,
  uniqueStreams,
} from "../../../test/realtime.support.ts";

// Scale-out (API.md "Real time", ADR 0013): two gateway nodes on one database behind real NATS. Whichever node a
// client is on, it gets every message of its channels exactly once, in order, with the same positions.

const runs = await shouldRunNatsTests("realtime over NATS");
const streams = uniqueStreams();
let database: TestDatabase;
let nodes: LiveApp[] = [];
let organizer: CreatedUser;
let guest: CreatedUser;

beforeAll(async () => {
  if (!runs) return;
  database = await createTestDatabase();
  const env = { NATS_URL: TEST_NATS_URL };
  nodes = [await startNode(database, { ...streams, env }), await startNode(database, { ...streams, env })];
  const first = nodes[0];
  if (first === undefined) throw new Error("no node");
  [organizer, guest] = await Promise.all([createUser(first.t), createUser(first.t)]);
});
afterAll(async () => {
  if (!runs) return;
  for (const node of nodes) await node.close();
  await deleteNatsStream(streams.stream.name, { ifExists: true });
  await database.drop();
});

it.runIf(runs)(
  "delivers every message to every subscriber on either node exactly once, in order",
  async () => {
    const [a, b] = nodes;
    if (a === undefined || b === undefined) throw new Error("two nodes expected");
    const event = await createPublished(a.t, organizer, { capacity: 1 });
    const channel = `event:${event.id}`;
    const userChannel = `user:${guest.user.id}`;
    const peers: Peer[] = [];
    for (const node of [a, b, a, b, a, b]) {
      const peer = await openPeer(node.wsUrl, guest.accessToken);
      expect(await subscribe(peer, channel)).toMatchObject({ type: "subscribed" });
      expect(await subscribe(peer, userChannel)).toMatchObject({ type: "subscribed" });
      peers.push(peer);
    }
    const titles = Array.from({ length: 40 }, (_, index) => `Title ${index + 1}`);
    // Writes through both nodes; the relay and the sequencer run on whichever holds them.
    for (const [index, title] of titles.entries()) {
      const writer = index % 2 === 0 ? a : b;
      const response = await writer.t.app.inject({
        method: "PATCH",
        url: `/api/events/${event.id}`,
        headers: bearer(organizer),
        payload: { title },
      });
      expect(response.statusCode).toBe(200);
    }
    const join = await b.t.app.inject({
      method: "POST",
      url: `/api/events/${event.id}/join`,
      headers: bearer(guest),
    });
    expect(join.statusCode).toBe(201);

    await Promise.all(
      peers.map((peer) =>
        peer.next((frame) => frame.type === "message" && frame.event.type === "participation.changed.v1", {
          timeoutMs: 15_000,
        }),
      ),
    );
    await Promise.all(
      peers.map((peer) =>
        peer.next(
          (frame) =>
            frame.type === "message" &&
            frame.event.type === "event.updated.v1" &&
            (frame.event.data as { event: { title: string } }).event.title === "Title 40",
          { timeoutMs: 15_000 },
        ),
      ),
    );
    const reference = messagesOn(peers[0] as Peer, channel)
      .filter((frame) => frame.event.type === "event.updated.v1")
      .map((frame) => [frame.seq, (frame.event.data as { event: { title: string } }).event.title]);
    expect(reference.map(([, title]) => title)).toEqual(titles);
    for (const peer of peers) {
      const updates = messagesOn(peer, channel)
        .filter((frame) => frame.event.type === "event.updated.v1")
        .map((frame) => [frame.seq, (frame.event.data as { event: { title: string } }).event.title]);
      expect(updates).toEqual(reference);
      const seqs = messagesOn(peer, channel).map((frame) => frame.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(messagesOn(peer, userChannel)).toHaveLength(1);
      peer.close();
    }
  },
);
