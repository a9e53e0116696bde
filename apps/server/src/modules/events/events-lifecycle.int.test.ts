import { eventChangedDataSchema } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { createManualClock } from "../../platform/clock.ts";
import {
  createCall,
  createDraft,
  createPublished,
  detailPaths,
  eventOf,
  outboxOf,
  setCounters,
} from "../../../test/events.support.ts";
import { participationOf } from "../../../test/participation.support.ts";

// Publish, cancel and delete; raising capacity; the outbox messages each change writes (or does not).

const clock = createManualClock(new Date("2026-03-01T12:00:00Z"));
let t: TestApp;
let organizer: CreatedUser;
const call = createCall(() => t);

beforeAll(async () => {
  t = await createTestApp({ deps: { clock } });
  organizer = await createUser(t, { name: "Olga Organizer" });
});
afterAll(() => t.close());

describe("lifecycle", () => {
  it("publishes a draft once: 409 event.invalid_state the second time", async () => {
    const draft = await createDraft(t, organizer);
    const published = await call("POST", `/api/events/${draft.id}/publish`, organizer);
    expect(published.statusCode).toBe(200);
    expect(published.headers.etag).toBe('"2"');
    expect(eventOf(published)).toMatchObject({ status: "published", version: 2 });
    const again = await call("POST", `/api/events/${draft.id}/publish`, organizer);
    expect(again.statusCode).toBe(409);
    expect(errorCode(again)).toBe("event.invalid_state");
  });

  it("refuses to publish a draft that has ended (409 event.in_past), but one still running is fine", async () => {
    const ended = await createDraft(t, organizer, {}, -3);
    const refused = await call("POST", `/api/events/${ended.id}/publish`, organizer);
    expect(refused.statusCode).toBe(409);
    expect(errorCode(refused)).toBe("event.in_past");
    const running = await createDraft(t, organizer, {}, -1);
    expect((await call("POST", `/api/events/${running.id}/publish`, organizer)).statusCode).toBe(200);
  });

  it("reports ended once the clock passes endsAt", async () => {
    const event = await createPublished(t, organizer, {}, 1);
    expect(event.ended).toBe(false);
    clock.advance(3 * 60 * 60 * 1000);
    try {
      const response = await call("GET", `/api/events/${event.id}`);
      expect(eventOf(response).ended).toBe(true);
    } finally {
      clock.advance(-3 * 60 * 60 * 1000);
    }
  });

  it("cancels a published event with its reason; a second cancel, a draft or an ended event is 409", async () => {
    const event = await createPublished(t, organizer);
    const cancelled = await call("POST", `/api/events/${event.id}/cancel`, organizer, {
      reason: " Venue flooded ",
    });
    expect(cancelled.statusCode).toBe(200);
    expect(eventOf(cancelled)).toMatchObject({
      status: "cancelled",
      cancelReason: "Venue flooded",
      version: 3,
    });
    const again = await call("POST", `/api/events/${event.id}/cancel`, organizer, { reason: "again" });
    expect(again.statusCode).toBe(409);
    expect(errorCode(again)).toBe("event.invalid_state");

    const draft = await createDraft(t, organizer);
    const ofDraft = await call("POST", `/api/events/${draft.id}/cancel`, organizer, { reason: "x" });
    expect(ofDraft.statusCode).toBe(409);
    expect(errorCode(ofDraft)).toBe("event.invalid_state");

    // Ends 6 minutes from now; tokens live 15, so the clock moves less than that.
    const running = await createPublished(t, organizer, {}, -1.9);
    clock.advance(7 * 60 * 1000);
    try {
      const ofEnded = await call("POST", `/api/events/${running.id}/cancel`, organizer, { reason: "x" });
      expect(ofEnded.statusCode).toBe(409);
      expect(errorCode(ofEnded)).toBe("event.in_past");
    } finally {
      clock.advance(-7 * 60 * 1000);
    }
  });

  it("needs a reason to cancel", async () => {
    const event = await createPublished(t, organizer);
    for (const payload of [{}, { reason: "   " }, { reason: "r".repeat(1001) }]) {
      const response = await call("POST", `/api/events/${event.id}/cancel`, organizer, payload);
      expect(response.statusCode).toBe(400);
      expect(detailPaths(response)).toEqual(["reason"]);
    }
  });

  it("deletes drafts only: 204, then 404; a published event is 409 event.invalid_state", async () => {
    const draft = await createDraft(t, organizer);
    const deleted = await call("DELETE", `/api/events/${draft.id}`, organizer);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe("");
    const gone = await call("GET", `/api/events/${draft.id}`, organizer);
    expect(gone.statusCode).toBe(404);
    expect(errorCode(await call("DELETE", `/api/events/${draft.id}`, organizer))).toBe("event.not_found");

    const published = await createPublished(t, organizer);
    const refused = await call("DELETE", `/api/events/${published.id}`, organizer);
    expect(refused.statusCode).toBe(409);
    expect(errorCode(refused)).toBe("event.invalid_state");
  });
});

describe("raising capacity", () => {
  it("gives the new seats to the waitlist head in the same transaction: the answer and event.updated.v1 count them", async () => {
    const event = await createPublished(t, organizer, { capacity: 1, waitlistLimit: 5 });
    const people = [await createUser(t), await createUser(t), await createUser(t)];
    for (const person of people) await call("POST", `/api/events/${event.id}/join`, person);

    const updated = eventOf(await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: 2 }));
    expect(updated.stats).toEqual({ confirmed: 2, waitlisted: 1, checkedIn: 0 });
    const messages = await outboxOf(t, event.id);
    expect(messages.at(-1)).toMatchObject({
      type: "event.updated.v1",
      payload: { event: updated, changedFields: ["capacity"] },
    });
    const places = await Promise.all(
      people.map(async (person) =>
        participationOf(await call("GET", `/api/events/${event.id}/participation`, person)),
      ),
    );
    expect(places.map((place) => place.status)).toEqual(["confirmed", "confirmed", "waitlisted"]);

    const unlimited = eventOf(await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: null }));
    expect(unlimited.stats).toEqual({ confirmed: 3, waitlisted: 0, checkedIn: 0 });
  });

  it("refuses a capacity below the confirmed count and leaves the event, its admission and the outbox as they were", async () => {
    const event = await createPublished(t, organizer, { capacity: 2, waitlistLimit: 5 });
    const people = [await createUser(t), await createUser(t), await createUser(t)];
    for (const person of people) await call("POST", `/api/events/${event.id}/join`, person);
    const before = await outboxOf(t, event.id);

    const refused = await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: 1, title: "Less" });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({
      error: { code: "event.capacity_below_confirmed", details: { confirmed: 2 } },
    });
    expect(eventOf(await call("GET", `/api/events/${event.id}`))).toMatchObject({
      capacity: 2,
      title: event.title,
      version: 2,
      stats: { confirmed: 2, waitlisted: 1, checkedIn: 0 },
    });
    expect(await outboxOf(t, event.id)).toEqual(before);
  });
});

describe("outbox messages", () => {
  it("writes published, updated and cancelled, each carrying the Event as answered", async () => {
    const draft = await createDraft(t, organizer);
    await call("PATCH", `/api/events/${draft.id}`, organizer, { title: "Draft edit" });
    expect(await outboxOf(t, draft.id)).toEqual([]);

    const published = await call("POST", `/api/events/${draft.id}/publish`, organizer);
    const updated = await call("PATCH", `/api/events/${draft.id}`, organizer, {
      startsAt: new Date(Date.parse(draft.startsAt) - 60_000).toISOString(),
      description: "New",
      title: "Draft edit",
    });
    const cancelled = await call("POST", `/api/events/${draft.id}/cancel`, organizer, { reason: "Ill" });
    expect(await outboxOf(t, draft.id)).toEqual([
      { aggregate_type: "event", type: "event.published.v1", payload: { event: eventOf(published) } },
      {
        aggregate_type: "event",
        type: "event.updated.v1",
        payload: { event: eventOf(updated), changedFields: ["description", "startsAt"] },
      },
      { aggregate_type: "event", type: "event.cancelled.v1", payload: { event: eventOf(cancelled) } },
    ]);
  });

  it("writes nothing for refused requests or an edit that changes nothing", async () => {
    const other = await createUser(t);
    const event = await createPublished(t, organizer, { capacity: 5 });
    await setCounters(t, event.id, { confirmed: 5 });
    const refused = [
      await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: 4 }),
      await call("PATCH", `/api/events/${event.id}`, organizer, { title: "x" }, { "if-match": '"1"' }),
      await call("PATCH", `/api/events/${event.id}`, other, { title: "x" }),
      await call("POST", `/api/events/${event.id}/publish`, organizer),
      await call("PATCH", `/api/events/${event.id}`, organizer, { title: event.title }),
    ];
    expect(refused.map((response) => response.statusCode)).toEqual([409, 412, 403, 409, 200]);
    expect((await outboxOf(t, event.id)).map((row) => row.type)).toEqual(["event.published.v1"]);
  });

  it("rolls the change back when writing the outbox row fails", async () => {
    const event = await createPublished(t, organizer);
    const { sql } = await import("kysely");
    await sql`
      CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'outbox refused by test'; END $$;
      CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_outbox();
    `.execute(t.deps.db);
    try {
      const response = await call("PATCH", `/api/events/${event.id}`, organizer, { title: "Never" });
      expect(response.statusCode).toBe(500);
      const cancel = await call("POST", `/api/events/${event.id}/cancel`, organizer, { reason: "Never" });
      expect(cancel.statusCode).toBe(500);
    } finally {
      await sql`DROP TRIGGER refuse_outbox ON outbox; DROP FUNCTION refuse_outbox();`.execute(t.deps.db);
    }
    const after = eventOf(await call("GET", `/api/events/${event.id}`));
    expect(after).toMatchObject({ title: event.title, status: "published", version: event.version });
    expect((await outboxOf(t, event.id)).map((row) => row.type)).toEqual(["event.published.v1"]);
  });
});

describe("concurrent writers", () => {
  it("lets exactly one of many PATCHes with the same If-Match win; the rest get 412", async () => {
    const event = await createPublished(t, organizer);
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        call(
          "PATCH",
          `/api/events/${event.id}`,
          organizer,
          { title: `Writer ${index}` },
          { "if-match": '"2"' },
        ),
      ),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 412)).toHaveLength(39);
    expect(eventOf(await call("GET", `/api/events/${event.id}`)).version).toBe(3);
  });

  it("serialises concurrent edits: versions and outbox rows follow one order", async () => {
    const event = await createPublished(t, organizer);
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        call("PATCH", `/api/events/${event.id}`, organizer, { description: `Edit ${index}` }),
      ),
    );
    expect(responses.every((response) => response.statusCode === 200)).toBe(true);
    const versions = responses.map((response) => eventOf(response).version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 40 }, (_, index) => index + 3));
    const messages = (await outboxOf(t, event.id)).slice(1);
    const written = messages.map((row) => eventChangedDataSchema.parse(row.payload).event.version);
    expect(written).toEqual(versions);
  });
});
