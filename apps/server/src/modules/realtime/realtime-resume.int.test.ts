import { type ChannelEvent, createRealtimeClient, type SocketConstructor } from "@turnout/contracts";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

// Resume (API.md "Real time"): positions per channel, replay of what was missed after a reconnect, reset when the
// history is gone, SSE's Last-Event-ID; and the slow client that is cut off instead of growing memory.

let live: LiveApp;
let shortHistory: LiveApp;
let organizer: CreatedUser;

beforeAll(async () => {
  [live, shortHistory] = await Promise.all([
    startLiveApp({ ...uniqueStreams(), env: { REALTIME_SEND_BUFFER_BYTES: String(64 * 1024) } }),
    startLiveApp({ ...uniqueStreams(), env: { REALTIME_HISTORY_PER_CHANNEL: "3" } }),
  ]);
  organizer = await createUser(live.t);
});
afterAll(() => Promise.all([live.close(), shortHistory.close()]));

async function rename(app: LiveApp, who: CreatedUser, eventId: string, title: string, description?: string) {
  const response = await app.t.app.inject({
    method: "PATCH",
    url: `/api/events/${eventId}`,
    headers: bearer(who),
    payload: { title, ...(description === undefined ? {} : { description }) },
  });
  if (response.statusCode !== 200) throw new Error(`rename failed: ${response.statusCode} ${response.body}`);
}

async function waitForChannelSeq(app: LiveApp, channel: string, seq: number): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    const row = await app.t.deps.db
      .selectFrom("realtime_channels")
      .select("last_seq")
      .where("channel", "=", channel)
      .executeTakeFirst();
    if ((row?.last_seq ?? 0) >= seq) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${channel} never reached ${seq}`);
}

function titleOf(event: ChannelEvent): string {
  return (event.data as { event: { title: string } }).event.title;
}

describe("resume", () => {
  it("loses and repeats nothing across forced disconnects while messages flow", async () => {
    const event = await createPublished(live.t, organizer);
    const channel = `event:${event.id}`;
    const titles: string[] = [];
    let connects = 0;
    const client = createRealtimeClient({
      url: live.wsUrl,
      WebSocket: WebSocket as unknown as SocketConstructor,
      backoff: { firstMs: 20, maxMs: 200 },
      onConnectionChange: (isConnected) => {
        if (isConnected) connects++;
      },
    });
    const allIn = new Promise<void>((resolve) => {
      client.subscribe(channel, (message) => {
        if (message.type !== "event.updated.v1") return;
        titles.push(titleOf(message));
        if (titles.length === 30) resolve();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const expected: string[] = [];
    for (let i = 1; i <= 30; i++) {
      expected.push(`Title ${i}`);
      await rename(live, organizer, event.id, `Title ${i}`);
      if (i % 10 === 5) client.dropConnection();
    }
    await allIn;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(titles).toEqual(expected);
    expect(connects).toBeGreaterThanOrEqual(4);
    client.close();
  });

  it("replays what was missed in order, then subscribed with the current position", async () => {
    const event = await createPublished(live.t, organizer);
    const channel = `event:${event.id}`;
    await waitForChannelSeq(live, channel, 1);
    const first = await openPeer(live.wsUrl);
    const subscribed = await subscribe(first, channel);
    if (subscribed.type !== "subscribed") throw new Error("not subscribed");
    first.close();
    await first.closed;
    for (let i = 1; i <= 4; i++) await rename(live, organizer, event.id, `Missed ${i}`);
    await waitForChannelSeq(live, channel, subscribed.seq + 4);
    const second = await openPeer(live.wsUrl);
    expect(await subscribe(second, channel, subscribed.seq)).toEqual({
      type: "subscribed",
      channel,
      seq: subscribed.seq + 4,
    });
    const replayed = messagesOn(second, channel);
    expect(replayed.map((frame) => frame.seq)).toEqual([1, 2, 3, 4].map((n) => subscribed.seq + n));
    expect(replayed.map((frame) => titleOf(frame.event))).toEqual([1, 2, 3, 4].map((n) => `Missed ${n}`));
    expect(second.frames.findIndex((frame) => frame.type === "subscribed")).toBe(4);
    second.close();
  });

  it("sends reset when the missed history is no longer kept, or the position is unknown", async () => {
    const owner = await createUser(shortHistory.t);
    const event = await createPublished(shortHistory.t, owner);
    const channel = `event:${event.id}`;
    for (let i = 1; i <= 6; i++) await rename(shortHistory, owner, event.id, `Renamed ${i}`);
    // published + 6 updates; only the last 3 are kept.
    await waitForChannelSeq(shortHistory, channel, 7);
    const peer = await openPeer(shortHistory.wsUrl);
    expect(await subscribe(peer, channel, 1)).toEqual({ type: "subscribed", channel, seq: 7 });
    expect(peer.frames).toEqual([
      { type: "reset", channel },
      { type: "subscribed", channel, seq: 7 },
    ]);
    const from = peer.frames.length;
    await subscribe(peer, channel, 5);
    expect(peer.frames.slice(from).map((frame) => frame.type)).toEqual(["message", "message", "subscribed"]);
    const beyond = peer.frames.length;
    await subscribe(peer, channel, 99);
    expect(peer.frames.slice(beyond)).toEqual([
      { type: "reset", channel },
      { type: "subscribed", channel, seq: 7 },
    ]);
    peer.close();
  });
});

describe("SSE", () => {
  it("streams named events with ids that resume every channel through Last-Event-ID", async () => {
    const event = await createPublished(live.t, organizer);
    const channel = `event:${event.id}`;
    const url = `${live.httpUrl}/api/realtime/sse?channels=${channel},events`;
    const first = await openSse(url);
    await first.next((entry) => entry.event === "subscribed" && entry.data.includes(channel));
    await first.next((entry) => entry.event === "subscribed" && entry.data.includes('"events"'));
    await rename(live, organizer, event.id, "Seen 1");
    await first.next((entry) => entry.event === "event.updated.v1" && entry.data.includes(channel));
    await first.next((entry) => entry.event === "event.updated.v1" && entry.data.includes('"events"'));
    const seen = first.entries.at(-1);
    if (seen === undefined) throw new Error("nothing seen");
    first.abort();
    for (let i = 1; i <= 3; i++) await rename(live, organizer, event.id, `Unseen ${i}`);
    await waitForChannelSeq(live, channel, 5);
    const second = await openSse(url, seen.id);
    await second.next((entry) => entry.event === "subscribed" && entry.data.includes('"events"'));
    const updates = second.entries.filter(
      (entry) => entry.event === "event.updated.v1" && entry.data.includes(event.id),
    );
    expect(
      updates.map((entry) => JSON.parse(entry.data) as { channel: string; event: ChannelEvent }),
    ).toMatchObject(
      [1, 2, 3, 1, 2, 3].map((n, index) => ({
        channel: index < 3 ? channel : "events",
        event: { data: { event: { title: `Unseen ${n}` } } },
      })),
    );
    second.abort();
  });

  it("refuses a channel the caller may not watch with 403 and a bad channel list with 400", async () => {
    const stranger = await createUser(live.t);
    const forbidden = await fetch(
      `${live.httpUrl}/api/realtime/sse?channels=user:${organizer.user.id}&token=${stranger.accessToken}`,
    );
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: { code: "auth.forbidden" } });
    const bad = await fetch(`${live.httpUrl}/api/realtime/sse?channels=events,nonsense`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "validation.failed" } });
  });
});

describe("protection", () => {
  it("cuts off a client that stops reading once its send buffer passes the limit, with close code 4008", async () => {
    const event = await createPublished(live.t, organizer);
    const channel = `event:${event.id}`;
    for (let i = 1; i <= 20; i++) await rename(live, organizer, event.id, `Big ${i}`, "x".repeat(9_000));
    await waitForChannelSeq(live, channel, 21);
    const peer = await openPeer(live.wsUrl);
    await subscribe(peer, channel);
    peer.socket.pause();
    // Each resubscription from 0 replays ~200 KB: far more than the socket buffers hold.
    for (let i = 0; i < 100; i++) peer.send({ type: "subscribe", channel, since: 0 });
    await waitFor(async () => (await metric(live, "realtime_slow_clients_dropped_total")) >= 1);
    peer.socket.resume();
    expect((await peer.closed).code).toBe(4008);
  });

  it("exposes connections, subscriptions, messages out, slow clients dropped and bus lag on /metrics", async () => {
    const peer = await openPeer(live.wsUrl);
    await subscribe(peer, "events");
    const text = await (await fetch(`${live.httpUrl}/metrics`)).text();
    for (const name of [
      "realtime_connections",
      "realtime_subscriptions",
      "realtime_messages_out_total",
      "realtime_slow_clients_dropped_total",
      "bus_lag_seconds_count",
    ]) {
      expect(text).toMatch(new RegExp(`^${name} \\d`, "m"));
    }
    expect(await metric(live, "realtime_connections")).toBeGreaterThanOrEqual(1);
    expect(await metric(live, "bus_lag_seconds_count")).toBeGreaterThan(0);
    peer.close();
  });
});

async function metric(app: LiveApp, name: string): Promise<number> {
  const text = await (await fetch(`${app.httpUrl}/metrics`)).text();
  const line = text.split("\n").find((entry) => entry.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? Number.NaN);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface SseEntry {
  id: string;
  event: string;
  data: string;
}

async function openSse(url: string, lastEventId?: string) {
  const controller = new AbortController();
  const response = await fetch(url, {
    signal: controller.signal,
    headers: lastEventId === undefined ? {} : { "last-event-id": lastEventId },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const entries: SseEntry[] = [];
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (reader === undefined) throw new Error("no body");
  let buffered = "";
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) return;
      buffered += value;
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const entry: SseEntry = { id: "", event: "message", data: "" };
        for (const line of block.split("\n")) {
          const [field, ...rest] = line.split(": ");
          const value = rest.join(": ");
          if (field === "id") entry.id = value;
          if (field === "event") entry.event = value;
          if (field === "data") entry.data = value;
        }
        if (block.startsWith(":")) continue;
        entries.push(entry);
      }
    }
  })();
  return {
    entries,
    async next(match: (entry: SseEntry) => boolean, timeoutMs = 5_000): Promise<SseEntry> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = entries.find(match);
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`no matching SSE entry; got ${JSON.stringify(entries)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    abort() {
      controller.abort();
      void pump;
    },
  };
}
