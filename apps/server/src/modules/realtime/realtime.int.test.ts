import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenKey, signAccessToken } from "../auth/index.ts";
import { createDraft, createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import {
  type LiveApp,
  messagesOn,
  openPeer,
  startLiveApp,
  subscribe,
  uniqueStreams,
} from "../../../test/realtime.support.ts";

// API.md "Real time" over real sockets on the in-process bus: the protocol, who may watch which channel, and
// which domain message reaches which channel.

let live: LiveApp;
let organizer: CreatedUser;
let guest: CreatedUser;
let moderator: CreatedUser;

beforeAll(async () => {
  live = await startLiveApp({ ...uniqueStreams() });
  [organizer, guest, moderator] = await Promise.all([
    createUser(live.t),
    createUser(live.t),
    createUser(live.t, { role: "moderator" }),
  ]);
});
afterAll(() => live.close());

describe("protocol", () => {
  it("answers ping with pong and malformed frames with message.invalid, keeping the socket open", async () => {
    const peer = await openPeer(live.wsUrl);
    for (const bad of ["not json", "[]", "{}", '{"type":"subscribe"}', '{"type":"nope"}', "null", '"x"']) {
      const from = peer.frames.length;
      peer.send(bad);
      expect(await peer.next((frame) => frame.type === "error", { from })).toEqual({
        type: "error",
        code: "message.invalid",
      });
    }
    const from = peer.frames.length;
    peer.send({ type: "subscribe", channel: "event:not-a-uuid" });
    expect(await peer.next((frame) => frame.type === "error", { from })).toEqual({
      type: "error",
      code: "message.invalid",
      channel: "event:not-a-uuid",
    });
    peer.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    peer.send({ type: "ping" });
    await peer.next((frame) => frame.type === "pong");
    expect(peer.socket.readyState).toBe(peer.socket.OPEN);
    peer.close();
  });

  it("closes a socket that sends a frame above the size limit with 1009", async () => {
    const peer = await openPeer(live.wsUrl);
    peer.send({ type: "auth", token: "x".repeat(64 * 1024) });
    expect((await peer.closed).code).toBe(1009);
  });

  it("answers a plain GET without an upgrade with 400", async () => {
    const response = await fetch(`${live.httpUrl}/api/realtime`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "request.malformed" } });
  });
});

describe("authorization", () => {
  it("lets anyone watch events and a published event's channel", async () => {
    const event = await createPublished(live.t, organizer);
    const peer = await openPeer(live.wsUrl);
    expect(await subscribe(peer, "events")).toMatchObject({ type: "subscribed" });
    expect(await subscribe(peer, `event:${event.id}`)).toMatchObject({ type: "subscribed" });
    peer.close();
  });

  it("shows a draft's channel and any dashboard only to the organizer and moderators+", async () => {
    const draft = await createDraft(live.t, organizer);
    const published = await createPublished(live.t, organizer);
    const cases: [CreatedUser | null, boolean][] = [
      [null, false],
      [guest, false],
      [organizer, true],
      [moderator, true],
    ];
    for (const [who, isAllowed] of cases) {
      const peer = await openPeer(live.wsUrl, who?.accessToken);
      for (const channel of [`event:${draft.id}`, `dashboard:${draft.id}`, `dashboard:${published.id}`]) {
        const answer = await subscribe(peer, channel);
        expect(answer.type, `${who?.user.role ?? "anonymous"} on ${channel}`).toBe(
          isAllowed ? "subscribed" : "error",
        );
        if (!isAllowed) expect(answer).toEqual({ type: "error", code: "auth.forbidden", channel });
      }
      peer.close();
    }
  });

  it("refuses the channel of an event that does not exist", async () => {
    const peer = await openPeer(live.wsUrl, moderator.accessToken);
    const channel = "event:00000000-0000-4000-8000-000000000000";
    expect(await subscribe(peer, channel)).toEqual({ type: "error", code: "auth.forbidden", channel });
    peer.close();
  });

  it("lets only that user watch user:<id>, with the token in the query or a first auth message", async () => {
    const channel = `user:${guest.user.id}`;
    const anonymous = await openPeer(live.wsUrl);
    expect(await subscribe(anonymous, channel)).toMatchObject({ type: "error", code: "auth.forbidden" });
    const other = await openPeer(live.wsUrl, organizer.accessToken);
    expect(await subscribe(other, channel)).toMatchObject({ type: "error", code: "auth.forbidden" });
    const byQuery = await openPeer(live.wsUrl, guest.accessToken);
    expect(await subscribe(byQuery, channel)).toMatchObject({ type: "subscribed" });
    const byMessage = await openPeer(live.wsUrl);
    byMessage.send({ type: "auth", token: guest.accessToken });
    expect(await subscribe(byMessage, channel)).toMatchObject({ type: "subscribed" });
    for (const peer of [anonymous, other, byQuery, byMessage]) peer.close();
  });

  it("answers a bad token with auth.invalid_token and keeps the socket anonymous", async () => {
    const peer = await openPeer(live.wsUrl);
    peer.send({ type: "auth", token: "not.a.token" });
    expect(await peer.next((frame) => frame.type === "error")).toEqual({
      type: "error",
      code: "auth.invalid_token",
    });
    expect(await subscribe(peer, "events")).toMatchObject({ type: "subscribed" });
    peer.close();
  });

  it("replaces the token without reconnecting: the previous user's channel is dropped", async () => {
    const peer = await openPeer(live.wsUrl, guest.accessToken);
    await subscribe(peer, `user:${guest.user.id}`);
    const from = peer.frames.length;
    peer.send({ type: "auth", token: organizer.accessToken });
    expect(await peer.next((frame) => frame.type === "error", { from })).toEqual({
      type: "error",
      code: "auth.forbidden",
      channel: `user:${guest.user.id}`,
    });
    expect(await subscribe(peer, `user:${organizer.user.id}`)).toMatchObject({ type: "subscribed" });
    peer.close();
  });

  it("on token expiry says auth.token_expired, drops the private channels, and takes a fresh token", async () => {
    const key = createTokenKey(live.t.deps.secrets.tokenSecret);
    // Signed as if 15 minutes minus one second ago: it expires a second from now.
    const signedAt = new Date(Date.now() - 15 * 60_000 + 1_000);
    const shortLived = await signAccessToken(
      key,
      { id: guest.user.id, role: "user", sessionId: guest.user.id },
      signedAt,
    );
    const peer = await openPeer(live.wsUrl, shortLived);
    expect(await subscribe(peer, `user:${guest.user.id}`)).toMatchObject({ type: "subscribed" });
    await subscribe(peer, "events");
    await peer.next((frame) => frame.type === "error" && frame.channel === `user:${guest.user.id}`, {
      timeoutMs: 4_000,
    });
    expect(peer.frames).toContainEqual({ type: "error", code: "auth.token_expired" });
    expect(peer.frames).toContainEqual({
      type: "error",
      code: "auth.token_expired",
      channel: `user:${guest.user.id}`,
    });
    peer.send({ type: "auth", token: guest.accessToken });
    expect(await subscribe(peer, `user:${guest.user.id}`)).toMatchObject({ type: "subscribed" });
    peer.close();
  });
});

describe("domain messages reach their channels", () => {
  it("sends lifecycle to events and event:<id>, participation to user:<id>, stats to event:<id>", async () => {
    const watcher = await openPeer(live.wsUrl, guest.accessToken);
    await subscribe(watcher, "events");
    await subscribe(watcher, `user:${guest.user.id}`);
    const event = await createPublished(live.t, organizer);
    await watcher.next(
      (frame) =>
        frame.type === "message" &&
        frame.event.type === "event.published.v1" &&
        hasEventId(frame.event.data, event.id),
    );
    await subscribe(watcher, `event:${event.id}`);
    const join = await live.t.app.inject({
      method: "POST",
      url: `/api/events/${event.id}/join`,
      headers: bearer(guest),
    });
    expect(join.statusCode).toBe(201);
    const changed = await watcher.next(
      (frame) => frame.type === "message" && frame.event.type === "participation.changed.v1",
    );
    expect(changed).toMatchObject({
      channel: `user:${guest.user.id}`,
      event: {
        data: { eventId: event.id, userId: guest.user.id, status: "confirmed", waitlistPosition: null },
      },
    });
    const stats = await watcher.next(
      (frame) => frame.type === "message" && frame.event.type === "stats.changed.v1",
    );
    expect(stats).toMatchObject({
      channel: `event:${event.id}`,
      event: { data: { eventId: event.id, confirmed: 1 } },
    });
    const cancel = await live.t.app.inject({
      method: "POST",
      url: `/api/events/${event.id}/cancel`,
      headers: bearer(organizer),
      payload: { reason: "Venue flooded" },
    });
    expect(cancel.statusCode).toBe(200);
    await watcher.next(
      (frame) =>
        frame.type === "message" &&
        frame.channel === `event:${event.id}` &&
        frame.event.type === "event.cancelled.v1",
    );
    await watcher.next(
      (frame) =>
        frame.type === "message" && frame.channel === "events" && frame.event.type === "event.cancelled.v1",
    );
    // Positions on each channel rise by one per message.
    for (const channel of ["events", `event:${event.id}`, `user:${guest.user.id}`]) {
      const seqs = messagesOn(watcher, channel).map((frame) => frame.seq);
      expect(seqs, channel).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size, channel).toBe(seqs.length);
    }
    watcher.close();
  });

  it("coalesces a burst of stats to about 10 a second and always delivers the latest", async () => {
    const event = await createPublished(live.t, organizer, { capacity: 1000 });
    const peer = await openPeer(live.wsUrl);
    await subscribe(peer, `event:${event.id}`);
    const joiners = await Promise.all(Array.from({ length: 40 }, () => createUser(live.t)));
    const startedAt = Date.now();
    await Promise.all(
      joiners.map((joiner) =>
        live.t.app.inject({ method: "POST", url: `/api/events/${event.id}/join`, headers: bearer(joiner) }),
      ),
    );
    const last = await peer.next((frame) => frame.type === "message" && isStats(frame.event.data, 40), {
      timeoutMs: 10_000,
    });
    const seconds = (Date.now() - startedAt) / 1000;
    const stats = messagesOn(peer, `event:${event.id}`).filter(
      (frame) => frame.event.type === "stats.changed.v1",
    );
    expect(stats.at(-1)).toEqual(last);
    expect(stats.length).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 1);
    expect(stats.length).toBeLessThan(40);
    peer.close();
  });
});

function hasEventId(data: unknown, id: string): boolean {
  return (
    typeof data === "object" && data !== null && "event" in data && (data.event as { id?: unknown }).id === id
  );
}

function isStats(data: unknown, confirmed: number): boolean {
  return typeof data === "object" && data !== null && "confirmed" in data && data.confirmed === confirmed;
}

describe("live waitlist positions", () => {
  it("pushes moved positions to the waitlisted within a second, without an outbox row per person", async () => {
    const event = await createPublished(live.t, organizer, { capacity: 1 });
    const people = await Promise.all(Array.from({ length: 6 }, () => createUser(live.t)));
    for (const person of people) {
      const join = await live.t.app.inject({
        method: "POST",
        url: `/api/events/${event.id}/join`,
        headers: bearer(person),
      });
      expect(join.statusCode).toBe(201);
    }
    // people[0] holds the seat; people[1..5] wait at positions 1..5.
    const last = people[5] as CreatedUser;
    const peer = await openPeer(live.wsUrl, last.accessToken);
    // From the start: the person's own join message comes first, whether sequenced yet or not.
    await subscribe(peer, `user:${last.user.id}`, 0);
    await peer.next((frame) => frame.type === "message" && frame.event.type === "participation.changed.v1");
    const outboxBefore = await countOutbox();
    const beforeLeave = peer.frames.length;
    const startedAt = Date.now();
    const leave = await live.t.app.inject({
      method: "DELETE",
      url: `/api/events/${event.id}/join`,
      headers: bearer(people[0] as CreatedUser),
    });
    expect(leave.statusCode).toBeLessThan(300);
    const moved = await peer.next(
      (frame) => frame.type === "message" && frame.event.type === "participation.changed.v1",
      { from: beforeLeave, timeoutMs: 3_000 },
    );
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(moved).toMatchObject({
      channel: `user:${last.user.id}`,
      event: {
        data: {
          eventId: event.id,
          userId: last.user.id,
          status: "waitlisted",
          waitlistPosition: 4,
          cause: "moved",
        },
      },
    });
    // The leave wrote its own rows (the leaver, the promoted one, the stats), none for the four who moved up.
    expect((await countOutbox()) - outboxBefore).toBeLessThanOrEqual(3);
    const from = peer.frames.length;
    await live.t.app.inject({
      method: "DELETE",
      url: `/api/events/${event.id}/join`,
      headers: bearer(people[3] as CreatedUser),
    });
    expect(await peer.next((frame) => frame.type === "message", { from, timeoutMs: 3_000 })).toMatchObject({
      event: { data: { waitlistPosition: 3, cause: "moved" } },
    });
    peer.close();
  });
});

async function countOutbox(): Promise<number> {
  const row = await live.t.deps.db
    .selectFrom("outbox")
    .select((eb) => eb.fn.countAll<number>().as("count"))
    .executeTakeFirstOrThrow();
  return row.count;
}
