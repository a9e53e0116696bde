import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bus } from "../../platform/bus/bus.ts";
import { createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import {
  type LiveApp,
  messagesOn,
  openPeer,
  startLiveApp,
  subscribe,
  uniqueStreams,
} from "../../../test/realtime.support.ts";
import { computeAnalyticsTick } from "../interactions/index.ts";
import { createChannelHub, type Watcher } from "./channel-hub.ts";
import { startChannelLogTrim } from "./channel-log-trim.ts";
import { appendChannelMessages } from "./channel-log.repo.ts";
import { createRealtimeMetrics } from "./realtime-metrics.ts";
import { liveSubject } from "./sequencer.ts";

// What keeps a gateway small over time: bus interest only in the channels its clients watch, a channel log that
// forgets by age, and dashboard ticks that run only while someone watches (API.md "Real time", ADR 0013).

const streams = uniqueStreams();
let live: LiveApp;
let organizer: CreatedUser;

beforeAll(async () => {
  live = await startLiveApp({ ...streams });
  organizer = await createUser(live.t);
});
afterAll(() => live.close());

async function rename(eventId: string, title: string): Promise<void> {
  const response = await live.t.app.inject({
    method: "PATCH",
    url: `/api/events/${eventId}`,
    headers: bearer(organizer),
    payload: { title },
  });
  expect(response.statusCode).toBe(200);
}

function countRows(channel: string): Promise<number> {
  return live.t.deps.db
    .selectFrom("realtime_messages")
    .select((eb) => eb.fn.countAll<string>().as("count"))
    .where("channel", "=", channel)
    .executeTakeFirstOrThrow()
    .then((row) => Number(row.count));
}

describe("bus interest", () => {
  it("subscribes a channel's subject on the bus with its first watcher and drops it with the last", async () => {
    const real = live.t.deps.bus;
    const subscribed: string[] = [];
    const unsubscribed: string[] = [];
    // The app's real bus, with its subscriptions written down.
    const bus: Bus = {
      ensureStream: (name, subjects) => real.ensureStream(name, subjects),
      publish: (msg) => real.publish(msg),
      consume: (opts, handler) => real.consume(opts, handler),
      ping: () => real.ping(),
      close: () => real.close(),
      subscribe(pattern, handler) {
        subscribed.push(pattern);
        const subscription = real.subscribe(pattern, handler);
        return {
          unsubscribe: async () => {
            unsubscribed.push(pattern);
            await subscription.unsubscribe();
          },
        };
      },
    };
    const hub = createChannelHub(
      { db: live.t.deps.db, log: live.t.deps.log, bus },
      {
        liveSubjectPrefix: streams.subjectPrefix,
        snapshotIntervalMs: 100,
        metrics: createRealtimeMetrics(live.t.deps.metrics.registry),
      },
    );
    const [first, second, unwatched] = await Promise.all([
      createPublished(live.t, organizer),
      createPublished(live.t, organizer),
      createPublished(live.t, organizer),
    ]);
    const received: string[] = [];
    const watcher = (name: string): Watcher => ({
      cursor: 0,
      deliver: (frame) => {
        received.push(`${name} ${frame}`);
      },
      deliverBatch(batch) {
        const first = batch.indexAfter(this.cursor);
        for (let index = first; index < batch.size; index++) received.push(`${name} ${batch.frameAt(index)}`);
        this.cursor = batch.lastSeq;
        return batch.size - first;
      },
    });
    const a1 = watcher("a1");
    const a2 = watcher("a2");
    const b = watcher("b");
    await hub.watch(`event:${first.id}`, a1);
    await hub.watch(`event:${first.id}`, a2);
    await hub.watch(`event:${second.id}`, b);
    expect(subscribed).toEqual([
      liveSubject(streams.subjectPrefix, `event:${first.id}`),
      liveSubject(streams.subjectPrefix, `event:${second.id}`),
    ]);
    expect([...hub.watchedChannels()].sort()).toEqual([`event:${first.id}`, `event:${second.id}`].sort());

    // The live path through the recorded subscriptions works, and nothing of the unwatched channel arrives.
    await rename(unwatched.id, "Nobody here watches this");
    await rename(first.id, "Watched");
    await expect.poll(() => received.filter((line) => line.includes("Watched")).length).toBe(2);
    expect(received.some((line) => line.includes("Nobody here watches this"))).toBe(false);

    hub.unwatch(`event:${first.id}`, a1);
    expect(unsubscribed).toEqual([]);
    hub.unwatch(`event:${first.id}`, a2);
    expect(unsubscribed).toEqual([liveSubject(streams.subjectPrefix, `event:${first.id}`)]);
    expect([...hub.watchedChannels()]).toEqual([`event:${second.id}`]);
    hub.unwatch(`event:${second.id}`, b);
    expect(unsubscribed).toHaveLength(2);
    expect([...hub.watchedChannels()]).toEqual([]);
    await hub.close();
  });
});

describe("channel log by age", () => {
  it("forgets messages older than REALTIME_HISTORY_HOURS; a since among them gets reset", async () => {
    const event = await createPublished(live.t, organizer);
    const channel = `event:${event.id}`;
    // The event.published.v1 message is the channel's first: let the sequencer place it before the others.
    await expect.poll(() => countRows(channel)).toBe(1);
    const dayAgo = new Date(Date.now() - 25 * 3_600_000).toISOString();
    const now = new Date().toISOString();
    const appended = await live.t.deps.db.transaction().execute(async (trx) => {
      const positions: number[] = [];
      for (const [index, occurredAt] of [dayAgo, dayAgo, dayAgo, now, now].entries()) {
        const [message] = await appendChannelMessages(
          trx,
          [channel],
          {
            outboxId: 0,
            type: "event.updated.v1",
            data: { event: { id: event.id, title: `Title ${index}` } },
            occurredAt,
          },
          1000,
        );
        positions.push(message?.seq ?? -1);
      }
      return positions;
    });
    const rowsBefore = await countRows(channel);

    const sweep = startChannelLogTrim(live.t.deps, { historyHours: 24 });
    await sweep.stop();
    expect(await countRows(channel)).toBe(rowsBefore - 3);

    const [, , lastOld, firstNew, lastNew] = appended;
    const peer = await openPeer(live.wsUrl);
    // Resuming from before the forgotten messages: they cannot be replayed.
    const tooOld = peer.frames.length;
    expect(await subscribe(peer, channel, (lastOld ?? 0) - 2)).toMatchObject({ seq: lastNew });
    expect(peer.frames.slice(tooOld).map((frame) => frame.type)).toEqual(["reset", "subscribed"]);
    // Resuming from the last forgotten one: only kept messages are needed.
    const kept = peer.frames.length;
    expect(await subscribe(peer, channel, lastOld)).toMatchObject({ seq: lastNew });
    expect(
      peer.frames.slice(kept).map((frame) => (frame.type === "message" ? frame.seq : frame.type)),
    ).toEqual([firstNew, lastNew, "subscribed"]);
    peer.close();
  });
});

describe("dashboard ticks", () => {
  it("pushes analytics.tick.v1 about once a second while the dashboard is watched, and stops after", async () => {
    const event = await createPublished(live.t, organizer);
    const unwatched = await createPublished(live.t, organizer);
    const channel = `dashboard:${event.id}`;
    const peer = await openPeer(live.wsUrl, organizer.accessToken);
    const watchedAt = Date.now();
    expect(await subscribe(peer, channel)).toMatchObject({ type: "subscribed", seq: 0 });
    await peer.next(() => messagesOn(peer, channel).length >= 3, { timeoutMs: 10_000 });
    const elapsed = Date.now() - watchedAt;
    const ticks = messagesOn(peer, channel);
    expect(ticks.map((tick) => tick.seq)).toEqual([1, 2, 3]);
    // Three ticks take about two seconds after the first (one a second, not one per watcher or node).
    expect(elapsed).toBeGreaterThan(1_800);
    const expected = await computeAnalyticsTick(live.t.deps.db, event.id, new Date());
    for (const tick of ticks) {
      expect(tick.event.type).toBe("analytics.tick.v1");
      expect(tick.event.data).toEqual({ ...expected, at: expect.any(String) as string });
    }
    const times = ticks.map((tick) => Date.parse((tick.event.data as { at: string }).at));
    expect((times[2] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(1_800);

    peer.send({ type: "unsubscribe", channel });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rowsAfterLeaving = await countRows(channel);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await countRows(channel)).toBe(rowsAfterLeaving);
    expect(await countRows(`dashboard:${unwatched.id}`)).toBe(0);
    peer.close();
  });
});
