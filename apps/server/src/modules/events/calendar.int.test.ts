import { type Event, eventSchema } from "@turnout/contracts";
import ICAL from "ical.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { createDraft, createPublished } from "../../../test/events.support.ts";

// Calendar export, parsed with ical.js (an independent RFC 5545 parser): one event's .ics with its visibility
// rule, and the per-user secret webcal feed.

const HOST = "turnout.example:8080";
// iCalendar times have whole seconds; these instants are exact in both.
const TIMES = { startsAt: "2030-06-15T17:30:00.000Z", endsAt: "2030-06-15T20:05:00.000Z" };
let t: TestApp;
let organizer: CreatedUser;
let other: CreatedUser;

beforeAll(async () => {
  t = await createTestApp();
  organizer = await createUser(t);
  other = await createUser(t);
});
afterAll(() => t.close());

function get(app: TestApp, url: string, who?: { accessToken: string }) {
  return app.app.inject({ method: "GET", url, headers: { host: HOST, ...(who ? bearer(who) : {}) } });
}

function parseCalendar(text: string) {
  const parsed: unknown = ICAL.parse(text);
  if (!Array.isArray(parsed)) throw new Error("not one calendar");
  const calendar = new ICAL.Component(parsed);
  const events = calendar.getAllSubcomponents("vevent").map((vevent) => new ICAL.Event(vevent));
  return { calendar, events };
}

function onlyEvent(text: string): ICAL.Event {
  const { events } = parseCalendar(text);
  expect(events).toHaveLength(1);
  const [event] = events;
  if (event === undefined) throw new Error("no VEVENT");
  return event;
}

function propertyOf(event: ICAL.Event, name: string): unknown {
  return event.component.getFirstPropertyValue(name);
}

describe("GET /api/events/:id/calendar.ics", () => {
  it("serves a valid calendar with the event's instants, zone, title, location and page URL", async () => {
    const event = await createPublished(t, organizer, TIMES);
    const response = await get(t, `/api/events/${event.id}/calendar.ics`);
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/calendar; charset=utf-8");
    expect(response.body).toMatch(/^BEGIN:VCALENDAR\r\n/);
    expect(response.body.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);

    const { calendar } = parseCalendar(response.body);
    expect(calendar.getFirstPropertyValue("version")).toBe("2.0");
    expect(calendar.getFirstPropertyValue("calscale")).toBe("GREGORIAN");
    expect(calendar.getFirstPropertyValue("method")).toBe("PUBLISH");
    expect(calendar.getFirstPropertyValue("prodid")).toBeTruthy();
    expect(calendar.getFirstPropertyValue("x-wr-timezone")).toBe("Europe/Berlin");

    const vevent = onlyEvent(response.body);
    expect(vevent.uid).toBe(`${event.id}@turnout`);
    expect(vevent.startDate.zone.tzid).toBe("UTC");
    expect(vevent.startDate.toJSDate().toISOString()).toBe(TIMES.startsAt);
    expect(vevent.endDate.toJSDate().toISOString()).toBe(TIMES.endsAt);
    expect(response.body).toContain("\r\nDTSTART:20300615T173000Z\r\n");
    expect(vevent.summary).toBe("Rust meetup");
    expect(vevent.description).toBe("Talks and pizza.");
    expect(vevent.location).toBe("Hall 5, Main street 1, Berlin");
    expect(propertyOf(vevent, "url")).toBe(`http://${HOST}/events/${event.id}`);
    expect(propertyOf(vevent, "status")).toBe("CONFIRMED");
    expect(vevent.sequence).toBe(event.version);
    expect(propertyOf(vevent, "dtstamp")).toBeInstanceOf(ICAL.Time);
  });

  it("round-trips a title with commas, semicolons and newlines and a long non-ASCII description", async () => {
    const title = "Beer, brats; bands\nand a backslash \\ too";
    const description = Array.from("Grüße aus Köln — 東京で会いましょう 🎉 ".repeat(8))
      .slice(0, 200)
      .join("");
    expect(Array.from(description)).toHaveLength(200);
    const event = await createPublished(t, organizer, { title, description });
    const response = await get(t, `/api/events/${event.id}/calendar.ics`);
    expect(response.statusCode).toBe(200);
    for (const line of response.body.split("\r\n")) {
      expect(Buffer.byteLength(line, "utf8")).toBeLessThanOrEqual(75);
    }
    expect(response.body).toContain("SUMMARY:Beer\\, brats\\; bands\\nand a backslash \\\\ too");

    const vevent = onlyEvent(response.body);
    expect(vevent.summary).toBe(title);
    expect(vevent.description).toBe(description);
  });

  it("gives an online event's URL as its location, and marks a cancelled one CANCELLED at its version", async () => {
    const onlineUrl = "https://meet.example/room?a=1,b=2";
    const event = await createPublished(t, organizer, { venue: null, onlineUrl });
    const cancel = await t.app.inject({
      method: "POST",
      url: `/api/events/${event.id}/cancel`,
      headers: bearer(organizer),
      payload: { reason: "Rain" },
    });
    const cancelled: Event = eventSchema.parse(cancel.json());
    const vevent = onlyEvent((await get(t, `/api/events/${event.id}/calendar.ics`)).body);
    expect(vevent.location).toBe(onlineUrl);
    expect(propertyOf(vevent, "status")).toBe("CANCELLED");
    expect(vevent.sequence).toBe(cancelled.version);
    expect(cancelled.version).toBeGreaterThan(event.version);
  });

  it("exports a draft only to those who may see it: 404 for everyone else", async () => {
    const draft = await createDraft(t, organizer);
    const moderator = await createUser(t, { role: "moderator" });
    const url = `/api/events/${draft.id}/calendar.ics`;
    for (const who of [undefined, other]) {
      const response = await get(t, url, who);
      expect(response.statusCode).toBe(404);
      expect(errorCode(response)).toBe("event.not_found");
    }
    for (const who of [organizer, moderator]) {
      const response = await get(t, url, who);
      expect(response.statusCode).toBe(200);
      expect(propertyOf(onlyEvent(response.body), "status")).toBe("TENTATIVE");
    }
    const missing = await get(t, "/api/events/0190a000-0000-7000-8000-000000000000/calendar.ics");
    expect(missing.statusCode).toBe(404);
    expect(errorCode(missing)).toBe("event.not_found");
  });

  it("answers 401 to a bad token rather than hiding the caller's own draft", async () => {
    const draft = await createDraft(t, organizer);
    const response = await get(t, `/api/events/${draft.id}/calendar.ics`, { accessToken: "not-a-jwt" });
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe("auth.invalid_token");
  });

  it("links to PUBLIC_URL when it is set", async () => {
    const app = await createTestApp({ env: { PUBLIC_URL: "https://turnout.example.org/some/path" } });
    try {
      const user = await createUser(app);
      const event = await createPublished(app, user);
      const vevent = onlyEvent((await get(app, `/api/events/${event.id}/calendar.ics`)).body);
      expect(propertyOf(vevent, "url")).toBe(`https://turnout.example.org/events/${event.id}`);
      const feed = await get(app, "/api/me/calendar-url", user);
      expect(feed.json<{ url: string }>().url).toMatch(
        /^webcal:\/\/turnout\.example\.org\/api\/calendar\/[A-Za-z0-9_-]{43}\.ics$/,
      );
    } finally {
      await app.close();
    }
  });
});

describe("calendar feed", () => {
  async function feedUrl(who: CreatedUser): Promise<string> {
    const response = await get(t, "/api/me/calendar-url", who);
    expect(response.statusCode).toBe(200);
    return response.json<{ url: string }>().url;
  }

  function feedPath(url: string): string {
    const prefix = `webcal://${HOST}`;
    expect(url.startsWith(prefix)).toBe(true);
    return url.slice(prefix.length);
  }

  it("needs a signed-in caller for the URL", async () => {
    const response = await get(t, "/api/me/calendar-url");
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe("auth.required");
  });

  it("hands out one stable, secret webcal URL per user", async () => {
    const user = await createUser(t);
    const urls = await Promise.all([feedUrl(user), feedUrl(user), feedUrl(user)]);
    expect(new Set(urls).size).toBe(1);
    expect(urls[0]).toMatch(/^webcal:\/\/turnout\.example:8080\/api\/calendar\/[A-Za-z0-9_-]{43}\.ics$/);
    expect(await feedUrl(user)).toBe(urls[0]);
    expect(await feedUrl(await createUser(t))).not.toBe(urls[0]);
  });

  it("serves the events the owner is confirmed for, without auth; not waitlisted, left or unjoined ones", async () => {
    const owner = await createUser(t);
    const first = await createPublished(t, other, { title: "First" });
    const second = await createPublished(t, other, { title: "Second", ...TIMES });
    const full = await createPublished(t, other, { title: "Full", capacity: 1 });
    const left = await createPublished(t, other, { title: "Left" });
    await createPublished(t, other, { title: "Never joined" });
    await createPublished(t, owner, { title: "Organized, not joined" });
    const join = (eventId: string, who: CreatedUser) =>
      t.app.inject({ method: "POST", url: `/api/events/${eventId}/join`, headers: bearer(who) });
    await join(full.id, await createUser(t));
    for (const event of [first, second, full, left])
      expect((await join(event.id, owner)).statusCode).toBe(201);
    await t.app.inject({ method: "DELETE", url: `/api/events/${left.id}/join`, headers: bearer(owner) });

    const response = await get(t, feedPath(await feedUrl(owner)));
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/calendar; charset=utf-8");
    expect(response.headers["cache-control"]).toBe("private, max-age=300");
    const { events } = parseCalendar(response.body);
    const byUid = new Map(events.map((event) => [event.uid, event]));
    expect([...byUid.keys()].sort()).toEqual([`${first.id}@turnout`, `${second.id}@turnout`].sort());
    const parsed = byUid.get(`${second.id}@turnout`);
    expect(parsed?.summary).toBe("Second");
    expect(parsed?.startDate.toJSDate().toISOString()).toBe(TIMES.startsAt);
    expect(parsed?.endDate.toJSDate().toISOString()).toBe(TIMES.endsAt);
    expect(parsed?.location).toBe("Hall 5, Main street 1, Berlin");
  });

  it("serves a valid empty calendar to a user with no events", async () => {
    const response = await get(t, feedPath(await feedUrl(await createUser(t))));
    expect(response.statusCode).toBe(200);
    expect(parseCalendar(response.body).events).toHaveLength(0);
  });

  it("answers 404 calendar.not_found to an unknown token", async () => {
    for (const token of ["A".repeat(43), "nope"]) {
      const response = await get(t, `/api/calendar/${token}.ics`);
      expect(response.statusCode).toBe(404);
      expect(errorCode(response)).toBe("calendar.not_found");
    }
  });
});
