import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { createCall, createDraft, createPublished, outboxOf } from "../../../test/events.support.ts";
import { expectConsistent, participationOf } from "../../../test/participation.support.ts";

// Joining, leaving, the waitlist, removal and capacity changes, one request at a time.

let t: TestApp;
let organizer: CreatedUser;
const call = createCall(() => t);

beforeAll(async () => {
  t = await createTestApp();
  organizer = await createUser(t, { name: "Olga Organizer" });
});
afterAll(() => t.close());

async function users(count: number): Promise<CreatedUser[]> {
  return Promise.all(Array.from({ length: count }, () => createUser(t)));
}

describe("join", () => {
  it("gives a seat (201), then answers the same place (200) without a second one", async () => {
    const event = await createPublished(t, organizer, { capacity: 5 });
    const [ana] = await users(1);
    if (ana === undefined) throw new Error("no user");
    const first = await call("POST", `/api/events/${event.id}/join`, ana);
    expect(first.statusCode).toBe(201);
    expect(participationOf(first)).toMatchObject({
      eventId: event.id,
      userId: ana.user.id,
      status: "confirmed",
      waitlistPosition: null,
    });
    expect(participationOf(first).confirmedAt).toBeDefined();
    const again = await call("POST", `/api/events/${event.id}/join`, ana);
    expect(again.statusCode).toBe(200);
    expect(participationOf(again)).toEqual(participationOf(first));
    const mine = await call("GET", `/api/events/${event.id}/participation`, ana);
    expect(participationOf(mine)).toEqual(participationOf(first));
    const stats = await call("GET", `/api/events/${event.id}/stats`);
    expect(stats.json()).toEqual({ capacity: 5, confirmed: 1, waitlisted: 0, checkedIn: 0 });
    await expectConsistent(t, event.id);
  });

  it("fills seats, then the waitlist in order, then answers 409 event.full", async () => {
    const event = await createPublished(t, organizer, { capacity: 2, waitlistLimit: 2 });
    const people = await users(5);
    const answers = [];
    for (const person of people) answers.push(await call("POST", `/api/events/${event.id}/join`, person));
    expect(answers.map((answer) => answer.statusCode)).toEqual([201, 201, 201, 201, 409]);
    expect(answers.slice(0, 4).map((answer) => participationOf(answer).status)).toEqual([
      "confirmed",
      "confirmed",
      "waitlisted",
      "waitlisted",
    ]);
    expect(answers.slice(2, 4).map((answer) => participationOf(answer).waitlistPosition)).toEqual([1, 2]);
    const last = answers[4];
    if (last === undefined) throw new Error("no answer");
    expect(errorCode(last)).toBe("event.full");
    expect(await expectConsistent(t, event.id)).toMatchObject({
      counters: { confirmed: 2, waitlisted: 2 },
    });
  });

  it("counts each decision once in joins_total, by outcome", async () => {
    const counts = async (): Promise<Map<string, number>> => {
      const { values } = await t.deps.metrics.joins.get();
      return new Map(values.map((value) => [String(value.labels.outcome), value.value]));
    };
    const before = await counts();
    const event = await createPublished(t, organizer, { capacity: 1, waitlistLimit: 1 });
    const [a, b, c] = await users(3);
    if (a === undefined || b === undefined || c === undefined) throw new Error("no users");
    // a and b at once (one batch), then a again, c, and the organizer.
    await Promise.all([a, b].map((person) => call("POST", `/api/events/${event.id}/join`, person)));
    for (const person of [a, c, organizer]) await call("POST", `/api/events/${event.id}/join`, person);
    const after = await counts();
    const grew = (outcome: string) => (after.get(outcome) ?? 0) - (before.get(outcome) ?? 0);
    expect(["confirmed", "waitlisted", "already", "full", "forbidden"].map(grew)).toEqual([1, 1, 1, 1, 1]);
  });

  it("with waitlistLimit 0 there is no waitlist; unlimited capacity confirms everyone", async () => {
    const noWaitlist = await createPublished(t, organizer, { capacity: 1, waitlistLimit: 0 });
    const unlimited = await createPublished(t, organizer, { capacity: null });
    const [a, b] = await users(2);
    if (a === undefined || b === undefined) throw new Error("no users");
    expect((await call("POST", `/api/events/${noWaitlist.id}/join`, a)).statusCode).toBe(201);
    expect(errorCode(await call("POST", `/api/events/${noWaitlist.id}/join`, b))).toBe("event.full");
    for (const person of [a, b]) {
      const joined = await call("POST", `/api/events/${unlimited.id}/join`, person);
      expect(participationOf(joined).status).toBe("confirmed");
    }
  });

  it("refuses the organizer (403), drafts (404), unknown events (404), cancelled and ended events (410)", async () => {
    const [guest] = await users(1);
    if (guest === undefined) throw new Error("no user");
    const open = await createPublished(t, organizer);
    const own = await call("POST", `/api/events/${open.id}/join`, organizer);
    expect([own.statusCode, errorCode(own)]).toEqual([403, "join.forbidden"]);
    const draft = await createDraft(t, organizer);
    const toDraft = await call("POST", `/api/events/${draft.id}/join`, guest);
    expect([toDraft.statusCode, errorCode(toDraft)]).toEqual([404, "event.not_found"]);
    const unknown = await call("POST", `/api/events/0193a1b2-0000-7000-8000-000000000000/join`, guest);
    expect([unknown.statusCode, errorCode(unknown)]).toEqual([404, "event.not_found"]);
    const cancelled = await createPublished(t, organizer);
    await call("POST", `/api/events/${cancelled.id}/cancel`, organizer, { reason: "Rain" });
    const toCancelled = await call("POST", `/api/events/${cancelled.id}/join`, guest);
    expect([toCancelled.statusCode, errorCode(toCancelled)]).toEqual([410, "event.closed"]);
    const running = await createPublished(t, organizer, {}, -1);
    // Ended since: the event's end and the copy its admission decides on.
    const endedAt = new Date(Date.now() - 1000);
    await t.deps.db.updateTable("events").set({ ends_at: endedAt }).where("id", "=", running.id).execute();
    await t.deps.db
      .updateTable("admissions")
      .set({ ends_at: endedAt })
      .where("event_id", "=", running.id)
      .execute();
    const toEnded = await call("POST", `/api/events/${running.id}/join`, guest);
    expect([toEnded.statusCode, errorCode(toEnded)]).toEqual([410, "event.closed"]);
    expect((await call("POST", `/api/events/${open.id}/join`)).statusCode).toBe(401);
  });

  it("writes participation.changed.v1 for the person and stats.changed.v1 for the event", async () => {
    const event = await createPublished(t, organizer, { capacity: 1 });
    const [a, b] = await users(2);
    if (a === undefined || b === undefined) throw new Error("no users");
    await call("POST", `/api/events/${event.id}/join`, a);
    await call("POST", `/api/events/${event.id}/join`, b);
    const messages = (await outboxOf(t, event.id)).filter((row) => row.type !== "event.published.v1");
    expect(messages.map((row) => [row.type, row.payload])).toEqual([
      [
        "participation.changed.v1",
        {
          eventId: event.id,
          userId: a.user.id,
          status: "confirmed",
          waitlistPosition: null,
          cause: "joined",
        },
      ],
      ["stats.changed.v1", { eventId: event.id, capacity: 1, confirmed: 1, waitlisted: 0, checkedIn: 0 }],
      [
        "participation.changed.v1",
        { eventId: event.id, userId: b.user.id, status: "waitlisted", waitlistPosition: 1, cause: "joined" },
      ],
      ["stats.changed.v1", { eventId: event.id, capacity: 1, confirmed: 1, waitlisted: 1, checkedIn: 0 }],
    ]);
  });
});

describe("leave and remove", () => {
  it("a freed seat goes to the waitlist head at once; leaving again is 200 unchanged", async () => {
    const event = await createPublished(t, organizer, { capacity: 1 });
    const [a, b, c] = await users(3);
    if (a === undefined || b === undefined || c === undefined) throw new Error("no users");
    for (const person of [a, b, c]) await call("POST", `/api/events/${event.id}/join`, person);
    const left = await call("DELETE", `/api/events/${event.id}/join`, a);
    expect(left.statusCode).toBe(200);
    expect(participationOf(left)).toMatchObject({ status: "cancelled", waitlistPosition: null });
    const promoted = await call("GET", `/api/events/${event.id}/participation`, b);
    expect(participationOf(promoted)).toMatchObject({ status: "confirmed", waitlistPosition: null });
    const next = await call("GET", `/api/events/${event.id}/participation`, c);
    expect(participationOf(next)).toMatchObject({ status: "waitlisted", waitlistPosition: 1 });
    const again = await call("DELETE", `/api/events/${event.id}/join`, a);
    expect([again.statusCode, participationOf(again).status]).toEqual([200, "cancelled"]);
    // Back of the queue.
    const rejoined = await call("POST", `/api/events/${event.id}/join`, a);
    expect(rejoined.statusCode).toBe(201);
    expect(participationOf(rejoined)).toMatchObject({ status: "waitlisted", waitlistPosition: 2 });
    const promotedMessage = (await outboxOf(t, event.id)).find(
      (row) => row.type === "participation.changed.v1" && JSON.stringify(row.payload).includes("promoted"),
    );
    expect(promotedMessage?.payload).toMatchObject({ userId: b.user.id, status: "confirmed" });
    await expectConsistent(t, event.id);
  });

  it("answers 404 participation.not_found to someone who never joined", async () => {
    const event = await createPublished(t, organizer);
    const [stranger] = await users(1);
    if (stranger === undefined) throw new Error("no user");
    const left = await call("DELETE", `/api/events/${event.id}/join`, stranger);
    expect([left.statusCode, errorCode(left)]).toEqual([404, "participation.not_found"]);
    const mine = await call("GET", `/api/events/${event.id}/participation`, stranger);
    expect([mine.statusCode, errorCode(mine)]).toEqual([404, "participation.not_found"]);
  });

  it("the organizer removes someone: the head is promoted and the removed person cannot rejoin", async () => {
    const event = await createPublished(t, organizer, { capacity: 1 });
    const [a, b, stranger] = await users(3);
    if (a === undefined || b === undefined || stranger === undefined) throw new Error("no users");
    await call("POST", `/api/events/${event.id}/join`, a);
    await call("POST", `/api/events/${event.id}/join`, b);
    const forbidden = await call("DELETE", `/api/events/${event.id}/participants/${a.user.id}`, stranger);
    expect([forbidden.statusCode, errorCode(forbidden)]).toEqual([403, "auth.forbidden"]);
    const removed = await call(
      "DELETE",
      `/api/events/${event.id}/participants/${a.user.id}?reason=spam`,
      organizer,
    );
    expect([removed.statusCode, participationOf(removed).status]).toEqual([200, "removed"]);
    const again = await call("DELETE", `/api/events/${event.id}/participants/${a.user.id}`, organizer);
    expect([again.statusCode, participationOf(again).status]).toEqual([200, "removed"]);
    expect(participationOf(await call("GET", `/api/events/${event.id}/participation`, b)).status).toBe(
      "confirmed",
    );
    const rejoin = await call("POST", `/api/events/${event.id}/join`, a);
    expect([rejoin.statusCode, errorCode(rejoin)]).toEqual([403, "join.forbidden"]);
    await expectConsistent(t, event.id);
  });
});

describe("capacity", () => {
  it("raising capacity promotes the waitlist in order; lowering below confirmed is 409", async () => {
    const event = await createPublished(t, organizer, { capacity: 1 });
    const people = await users(4);
    for (const person of people) await call("POST", `/api/events/${event.id}/join`, person);
    const lowered = await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: 1 });
    expect(lowered.statusCode).toBe(200);
    const raised = await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: 3 });
    expect(raised.json()).toMatchObject({ capacity: 3, stats: { confirmed: 3, waitlisted: 1 } });
    const statuses = [];
    for (const person of people) {
      statuses.push(
        participationOf(await call("GET", `/api/events/${event.id}/participation`, person)).status,
      );
    }
    expect(statuses).toEqual(["confirmed", "confirmed", "confirmed", "waitlisted"]);
    const tooLow = await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: 2 });
    expect([tooLow.statusCode, errorCode(tooLow)]).toEqual([409, "event.capacity_below_confirmed"]);
    const unlimited = await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: null });
    expect(unlimited.json()).toMatchObject({ stats: { confirmed: 4, waitlisted: 0 } });
    await expectConsistent(t, event.id);
  });
});

describe("idempotency", () => {
  it("a replayed join answers the same body, and after a cancel does not join again", async () => {
    const event = await createPublished(t, organizer, { capacity: 3 });
    const [a] = await users(1);
    if (a === undefined) throw new Error("no user");
    const key = { "idempotency-key": `join-${a.user.id}` };
    const first = await call("POST", `/api/events/${event.id}/join`, a, undefined, key);
    expect(first.statusCode).toBe(201);
    const replay = await call("POST", `/api/events/${event.id}/join`, a, undefined, key);
    expect(replay.statusCode).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.json()).toEqual(first.json());
    await call("DELETE", `/api/events/${event.id}/join`, a, undefined, {
      "idempotency-key": `leave-${a.user.id}`,
    });
    const late = await call("POST", `/api/events/${event.id}/join`, a, undefined, key);
    expect(late.headers["idempotent-replayed"]).toBe("true");
    const mine = await call("GET", `/api/events/${event.id}/participation`, a);
    expect(participationOf(mine).status).toBe("cancelled");
    expect((await expectConsistent(t, event.id)).counters.confirmed).toBe(0);
  });
});
