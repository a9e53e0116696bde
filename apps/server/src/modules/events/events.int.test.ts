import type { Event } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { createManualClock } from "../../platform/clock.ts";
import {
  createCall,
  createDraft,
  createPublished,
  detailPaths,
  eventBody,
  eventOf,
  setCounters,
} from "../../../test/events.support.ts";

// Creating, reading and editing events, and the organizer's own list.

const clock = createManualClock(new Date("2026-03-01T12:00:00Z"));
let t: TestApp;
let organizer: CreatedUser;
const call = createCall(() => t);

beforeAll(async () => {
  t = await createTestApp({ deps: { clock } });
  organizer = await createUser(t, { name: "Olga Organizer" });
});
afterAll(() => t.close());

describe("POST /api/events", () => {
  it("creates a draft with defaults, the organizer, zero stats, version 1 and its ETag", async () => {
    const body = {
      title: "  Jazz night  ",
      startsAt: "2026-04-01T19:00:00+02:00",
      endsAt: "2026-04-01T23:00:00+02:00",
    };
    const response = await call("POST", "/api/events", organizer, {
      ...body,
      timezone: "Europe/Paris",
      category: "music",
      tags: ["Jazz", "jazz", " live "],
    });
    expect(response.statusCode).toBe(201);
    const event = eventOf(response);
    expect(response.headers.etag).toBe('"1"');
    expect(event).toMatchObject({
      title: "Jazz night",
      description: "",
      startsAt: "2026-04-01T17:00:00.000Z",
      endsAt: "2026-04-01T21:00:00.000Z",
      timezone: "Europe/Paris",
      venue: null,
      onlineUrl: null,
      category: "music",
      tags: ["jazz", "live"],
      capacity: null,
      waitlistLimit: null,
      visibility: "public",
      status: "draft",
      organizer: { id: organizer.user.id, name: "Olga Organizer" },
      stats: { confirmed: 0, waitlisted: 0, checkedIn: 0 },
      version: 1,
      ended: false,
      createdAt: clock.now().toISOString(),
    });
    expect(event).not.toHaveProperty("cancelReason");
    expect(event).not.toHaveProperty("coverPhotoUrl");
    const read = await call("GET", `/api/events/${event.id}`, organizer);
    expect(read.json()).toEqual(response.json());
  });

  it("accepts drafts in the past, reported as ended", async () => {
    const event = await createDraft(t, organizer, {}, -48);
    expect(event.ended).toBe(true);
  });

  it("answers 400 validation.failed with one detail per bad field", async () => {
    const response = await call("POST", "/api/events", organizer, {
      ...eventBody(t),
      title: "x".repeat(121),
      description: "d".repeat(10_001),
      timezone: "Mars/Olympus_Mons",
      category: "knitting",
      capacity: 0,
      waitlistLimit: -1,
      onlineUrl: "ftp://example.test/x",
      venue: { name: "", address: "Somewhere" },
    });
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe("validation.failed");
    expect(detailPaths(response)).toEqual([
      "capacity",
      "category",
      "description",
      "onlineUrl",
      "timezone",
      "title",
      "venue.name",
      "waitlistLimit",
    ]);
  });

  it("refuses an end not after the start, an offset for a time zone, and the capacity limits", async () => {
    const body = eventBody(t);
    const cases: [object, string][] = [
      [{ endsAt: body.startsAt }, "endsAt"],
      [{ timezone: "+01:00" }, "timezone"],
      [{ capacity: 1_000_001 }, "capacity"],
      [{ capacity: 2.5 }, "capacity"],
      [{ title: "   " }, "title"],
      [{ startsAt: "tomorrow" }, "startsAt"],
    ];
    for (const [change, path] of cases) {
      const response = await call("POST", "/api/events", organizer, { ...body, ...change });
      expect(response.statusCode, JSON.stringify(change)).toBe(400);
      expect(detailPaths(response)).toEqual([path]);
    }
    for (const capacity of [1, 1_000_000, null]) {
      const response = await call("POST", "/api/events", organizer, { ...body, capacity, waitlistLimit: 0 });
      expect(response.statusCode).toBe(201);
    }
  });

  it("answers 401 auth.required without a token and 400 request.malformed for broken JSON", async () => {
    const anonymous = await call("POST", "/api/events", undefined, eventBody(t));
    expect(anonymous.statusCode).toBe(401);
    expect(errorCode(anonymous)).toBe("auth.required");
    const broken = await t.app.inject({
      method: "POST",
      url: "/api/events",
      headers: { ...bearer(organizer), "content-type": "application/json" },
      payload: "{ nope",
    });
    expect(broken.statusCode).toBe(400);
    expect(errorCode(broken)).toBe("request.malformed");
  });

  it("replays a retried create with the same Idempotency-Key and creates one event", async () => {
    const key = { "idempotency-key": `create-${Date.now()}` };
    const body = eventBody(t, { title: "Only once" });
    const first = await call("POST", "/api/events", organizer, body, key);
    const second = await call("POST", "/api/events", organizer, body, key);
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.headers["idempotent-replayed"]).toBe("true");
    expect(second.json()).toEqual(first.json());
    const rows = await t.deps.db.selectFrom("events").select("id").where("title", "=", "Only once").execute();
    expect(rows).toHaveLength(1);
    const other = await call("POST", "/api/events", organizer, { ...body, title: "Other" }, key);
    expect(other.statusCode).toBe(422);
    expect(errorCode(other)).toBe("idempotency.mismatch");
  });
});

describe("GET /api/events/:id", () => {
  it("answers 404 event.not_found for an unknown id and 400 for one that is not a UUID", async () => {
    const missing = await call("GET", "/api/events/0190a6b4-0000-7000-8000-000000000000");
    expect(missing.statusCode).toBe(404);
    expect(errorCode(missing)).toBe("event.not_found");
    const malformed = await call("GET", "/api/events/not-a-uuid");
    expect(malformed.statusCode).toBe(400);
    expect(errorCode(malformed)).toBe("validation.failed");
  });

  it("answers 401 auth.token_expired to an organizer reading their draft with an expired token", async () => {
    const draft = await createDraft(t, organizer);
    clock.advance(16 * 60 * 1000);
    try {
      const response = await call("GET", `/api/events/${draft.id}`, organizer);
      expect(response.statusCode).toBe(401);
      expect(errorCode(response)).toBe("auth.token_expired");
    } finally {
      clock.advance(-16 * 60 * 1000);
    }
  });

  it("shows unlisted events to anyone with the id", async () => {
    const event = await createPublished(t, organizer, { visibility: "unlisted" });
    const response = await call("GET", `/api/events/${event.id}`);
    expect(response.statusCode).toBe(200);
    expect(eventOf(response).visibility).toBe("unlisted");
    expect(response.headers.etag).toBe('"2"');
  });
});

describe("PATCH /api/events/:id", () => {
  it("changes the fields sent, bumps the version and answers the new ETag", async () => {
    const draft = await createDraft(t, organizer);
    const response = await call("PATCH", `/api/events/${draft.id}`, organizer, {
      title: "Rust meetup #2",
      venue: null,
      onlineUrl: "https://meet.example.test/rust",
      capacity: null,
      tags: ["rust", "systems"],
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers.etag).toBe('"2"');
    expect(eventOf(response)).toMatchObject({
      title: "Rust meetup #2",
      venue: null,
      onlineUrl: "https://meet.example.test/rust",
      capacity: null,
      tags: ["rust", "systems"],
      description: draft.description,
      version: 2,
    });
  });

  it("keeps the version when nothing changes", async () => {
    const draft = await createDraft(t, organizer);
    const same = await call("PATCH", `/api/events/${draft.id}`, organizer, {
      title: draft.title,
      startsAt: draft.startsAt,
      venue: draft.venue,
      tags: draft.tags,
    });
    expect(same.statusCode).toBe(200);
    expect(eventOf(same).version).toBe(1);
    const empty = await call("PATCH", `/api/events/${draft.id}`, organizer, {});
    expect(eventOf(empty)).toEqual(draft);
  });

  it("honours If-Match: 412 resource.version_mismatch when stale, 200 when current or *", async () => {
    const draft = await createDraft(t, organizer);
    const first = await call(
      "PATCH",
      `/api/events/${draft.id}`,
      organizer,
      { title: "A" },
      { "if-match": '"1"' },
    );
    expect(first.statusCode).toBe(200);
    const stale = await call(
      "PATCH",
      `/api/events/${draft.id}`,
      organizer,
      { title: "B" },
      { "if-match": '"1"' },
    );
    expect(stale.statusCode).toBe(412);
    expect(errorCode(stale)).toBe("resource.version_mismatch");
    const weak = await call(
      "PATCH",
      `/api/events/${draft.id}`,
      organizer,
      { title: "B" },
      { "if-match": 'W/"2"' },
    );
    expect(weak.statusCode).toBe(412);
    const listed = await call(
      "PATCH",
      `/api/events/${draft.id}`,
      organizer,
      { title: "B" },
      { "if-match": '"7", "2"' },
    );
    expect(listed.statusCode).toBe(200);
    const star = await call(
      "PATCH",
      `/api/events/${draft.id}`,
      organizer,
      { title: "C" },
      { "if-match": "*" },
    );
    expect(eventOf(star)).toMatchObject({ title: "C", version: 4 });
  });

  it("checks endsAt > startsAt against the stored times", async () => {
    const draft = await createDraft(t, organizer);
    const response = await call("PATCH", `/api/events/${draft.id}`, organizer, { endsAt: draft.startsAt });
    expect(response.statusCode).toBe(400);
    expect(detailPaths(response)).toEqual(["endsAt"]);
    const later = new Date(Date.parse(draft.endsAt) + 60_000).toISOString();
    const moved = await call("PATCH", `/api/events/${draft.id}`, organizer, { startsAt: later });
    expect(moved.statusCode).toBe(400);
    expect(detailPaths(moved)).toEqual(["endsAt"]);
  });

  it("answers 409 event.capacity_below_confirmed when capacity drops under the confirmed count", async () => {
    const event = await createPublished(t, organizer, { capacity: 10 });
    await setCounters(t, event.id, { confirmed: 8 });
    const below = await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: 7 });
    expect(below.statusCode).toBe(409);
    expect(errorCode(below)).toBe("event.capacity_below_confirmed");
    const equal = await call("PATCH", `/api/events/${event.id}`, organizer, { capacity: 8 });
    expect(equal.statusCode).toBe(200);
    expect(eventOf(equal)).toMatchObject({ capacity: 8, stats: { confirmed: 8 } });
  });

  it("refuses to edit a cancelled event with 409 event.invalid_state", async () => {
    const event = await createPublished(t, organizer);
    await call("POST", `/api/events/${event.id}/cancel`, organizer, { reason: "Rain" });
    const response = await call("PATCH", `/api/events/${event.id}`, organizer, { title: "Back on" });
    expect(response.statusCode).toBe(409);
    expect(errorCode(response)).toBe("event.invalid_state");
  });
});

describe("GET /api/me/events", () => {
  it("lists the caller's events of every status, latest start first, in pages without repeats", async () => {
    const me = await createUser(t);
    const someoneElse = await createUser(t);
    await createDraft(t, someoneElse);
    const draft = await createDraft(t, me, { title: "Draft" }, 10);
    const published = await createPublished(t, me, { title: "Published" }, 20);
    const cancelled = await createPublished(t, me, { title: "Cancelled" }, 30);
    await call("POST", `/api/events/${cancelled.id}/cancel`, me, { reason: "x" });
    const past = await createDraft(t, me, { title: "Past" }, -100);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? "limit=3" : `limit=3&cursor=${cursor}`;
      const response = await call("GET", `/api/me/events?${query}`, me);
      expect(response.statusCode).toBe(200);
      const page = response.json<{ items: Event[]; nextCursor: string | null }>();
      seen.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual([cancelled.id, published.id, draft.id, past.id]);
  });

  it("answers 401 without a token and 400 for a bad cursor or limit", async () => {
    expect((await call("GET", "/api/me/events")).statusCode).toBe(401);
    for (const query of ["cursor=garbage", "limit=0", "limit=101"]) {
      const response = await call("GET", `/api/me/events?${query}`, organizer);
      expect(response.statusCode, query).toBe(400);
      expect(errorCode(response)).toBe("validation.failed");
    }
  });
});
