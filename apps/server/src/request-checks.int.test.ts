import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../test/factories.ts";
import { errorCode } from "../test/http.ts";
import { requireUser } from "./modules/auth/index.ts";
import { createCall, createPublished, detailPaths, eventBody } from "../test/events.support.ts";
import { writeCursor } from "./platform/cursor.ts";

// Issue 9, points 1-3: the order of checks, strings PostgreSQL cannot store, and hand-made cursors.

let t: TestApp;
let organizer: CreatedUser;
let eventId: string;
const call = createCall(() => t);

beforeAll(async () => {
  t = await createTestApp();
  organizer = await createUser(t);
  eventId = (await createPublished(t, organizer)).id;
});
afterAll(() => t.close());

const GARBAGE = { authorization: "Bearer not.a.token" };

describe("authentication comes before validation", () => {
  it("answers 401 to an invalid request on a signed-in route, whatever is wrong with it", async () => {
    const anonymous = await call("POST", "/api/events", undefined, {});
    expect([anonymous.statusCode, errorCode(anonymous)]).toEqual([401, "auth.required"]);
    const garbage = await call("POST", "/api/events", undefined, {}, GARBAGE);
    expect([garbage.statusCode, errorCode(garbage)]).toEqual([401, "auth.invalid_token"]);
    const malformed = await t.app.inject({
      method: "POST",
      url: "/api/events",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    expect([malformed.statusCode, errorCode(malformed)]).toEqual([401, "auth.required"]);
    const badParams = await call("PATCH", "/api/events/not-a-uuid", undefined, { title: 5 });
    expect([badParams.statusCode, errorCode(badParams)]).toEqual([401, "auth.required"]);
    const badQuery = await call("GET", "/api/me/events?limit=1000");
    expect([badQuery.statusCode, errorCode(badQuery)]).toEqual([401, "auth.required"]);

    const signedIn = await call("POST", "/api/events", organizer, {});
    expect([signedIn.statusCode, errorCode(signedIn)]).toEqual([400, "validation.failed"]);
  });

  it("lets anyone read a public route, but a bad token there is still 401 before validation", async () => {
    const anonymous = await call("GET", "/api/events/not-a-uuid");
    expect([anonymous.statusCode, errorCode(anonymous)]).toEqual([400, "validation.failed"]);
    const garbage = await call("GET", "/api/events/not-a-uuid", undefined, undefined, GARBAGE);
    expect([garbage.statusCode, errorCode(garbage)]).toEqual([401, "auth.invalid_token"]);
    const stats = await call("GET", `/api/events/${eventId}/stats`, undefined, undefined, GARBAGE);
    expect(stats.statusCode).toBe(401);
    expect((await call("GET", `/api/events/${eventId}/stats`)).statusCode).toBe(200);
  });
});

describe("a route that forgets to declare its security", () => {
  it("fails every request, signed in or not, so it cannot ship with validation before authentication", async () => {
    const forgetful = await createTestApp({
      configure: (app) => {
        app.get("/test/forgot-security", (request) => Promise.resolve({ id: requireUser(request).id }));
      },
    });
    try {
      const person = await createUser(forgetful);
      for (const headers of [{}, bearer(person)]) {
        const response = await forgetful.app.inject({ url: "/test/forgot-security", headers });
        expect([response.statusCode, errorCode(response)]).toEqual([500, "internal"]);
      }
    } finally {
      await forgetful.close();
    }
  });
});

describe("strings PostgreSQL cannot store are 400 on the field that holds them", () => {
  const NUL = "a\u0000b";
  const LONE = "x\ud800y";

  it("refuses them in registration and stores nothing", async () => {
    const before = await t.deps.db
      .selectFrom("users")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    for (const name of [NUL, LONE]) {
      const response = await call("POST", "/api/auth/register", undefined, {
        email: `nul-${Math.random()}@example.test`,
        password: "a-long-enough-password",
        name,
      });
      expect([response.statusCode, errorCode(response), detailPaths(response)]).toEqual([
        400,
        "validation.failed",
        ["name"],
      ]);
    }
    const after = await t.deps.db
      .selectFrom("users")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it("refuses them at login without counting a failed login", async () => {
    const person = await createUser(t);
    const ip = "10.77.0.1";
    for (let attempt = 0; attempt < 15; attempt++) {
      const response = await t.app.inject({
        method: "POST",
        url: "/api/auth/login",
        remoteAddress: ip,
        payload: { email: `${person.user.email}\u0000`, password: person.password },
      });
      expect([response.statusCode, errorCode(response)]).toEqual([400, "validation.failed"]);
    }
    const real = await t.app.inject({
      method: "POST",
      url: "/api/auth/login",
      remoteAddress: ip,
      payload: { email: person.user.email, password: person.password },
    });
    expect(real.statusCode).toBe(200);
  });

  it("refuses them in every string field of an event, and in queries, params and nested keys", async () => {
    const cases: [string, string, object | undefined, string[]][] = [
      ["PATCH", "/api/me", { name: NUL }, ["name"]],
      ["POST", "/api/events", eventBody(t, { title: NUL }), ["title"]],
      ["POST", "/api/events", eventBody(t, { description: LONE }), ["description"]],
      ["POST", "/api/events", eventBody(t, { venue: { name: NUL, address: "x" } }), ["venue.name"]],
      ["POST", "/api/events", eventBody(t, { tags: ["ok", NUL] }), ["tags.1"]],
      ["POST", "/api/events", eventBody(t, { onlineUrl: `https://a.test/${NUL}` }), ["onlineUrl"]],
      ["POST", "/api/events", eventBody(t, { coverPhotoUrl: `https://a.test/${LONE}` }), ["coverPhotoUrl"]],
      ["PATCH", `/api/events/${eventId}`, { title: NUL, description: LONE }, ["description", "title"]],
      ["POST", `/api/events/${eventId}/cancel`, { reason: NUL }, ["reason"]],
      ["POST", "/api/events", { ...eventBody(t), [`x${NUL}`]: 1 }, [""]],
      ["GET", "/api/events?q=a%00b", undefined, ["q"]],
      ["GET", "/api/events?tag=%00", undefined, ["tag"]],
      [
        "DELETE",
        `/api/events/${eventId}/participants/${organizer.user.id}?reason=a%00b`,
        undefined,
        ["reason"],
      ],
    ];
    for (const [method, url, payload, paths] of cases) {
      const response = await call(method as "GET", url, organizer, payload);
      expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(400);
      expect([response.statusCode, errorCode(response), detailPaths(response)], `${method} ${url}`).toEqual([
        400,
        "validation.failed",
        paths,
      ]);
    }
    const calendar = await call("GET", "/api/calendar/a%00b.ics");
    expect([calendar.statusCode, errorCode(calendar)]).toEqual([400, "validation.failed"]);
  });

  it("keeps well-formed text, emoji and all", async () => {
    const response = await call("PATCH", "/api/me", organizer, { name: "Zoë 🎉 李" });
    expect(response.statusCode).toBe(200);
    expect(response.json<{ name: string }>().name).toBe("Zoë 🎉 李");
  });
});

describe("JSON bodies", () => {
  const nested = (depth: number) => `${'{"a":'.repeat(depth)}"deep"${"}".repeat(depth)}`;

  it("refuses nesting past 64 levels before anything walks the body (it overflowed idempotency's hash)", async () => {
    const response = await t.app.inject({
      method: "DELETE",
      url: `/api/events/${eventId}/join`,
      headers: { ...bearer(organizer), "content-type": "application/json", "idempotency-key": "deep-1" },
      payload: nested(5_000),
    });
    expect([response.statusCode, errorCode(response)]).toEqual([400, "request.malformed"]);
    const shallow = await t.app.inject({
      method: "PATCH",
      url: "/api/me",
      headers: { ...bearer(organizer), "content-type": "application/json" },
      payload: `{"name":"Deep enough","extra":${nested(62)}}`,
    });
    expect(shallow.statusCode).toBe(200);
  });

  it("keeps Fastify's prototype-poisoning protection", async () => {
    const response = await t.app.inject({
      method: "PATCH",
      url: "/api/me",
      headers: { ...bearer(organizer), "content-type": "application/json" },
      payload: '{"name":"x","__proto__":{"isAdmin":true}}',
    });
    expect([response.statusCode, errorCode(response)]).toEqual([400, "request.malformed"]);
  });
});

describe("cursors are decoded strictly", () => {
  const id = "0190a6b4-1234-7000-8000-00000000abcd";
  const handMade = [
    ["/api/events", writeCursor(["t", "2026-02-30T10:00:00.000000Z", id])],
    ["/api/events", writeCursor(["t", "0000-01-01T00:00:00.000000Z", id])],
    ["/api/events?q=rust", writeCursor(["r", "1e99", "2026-05-01T10:00:00.000000Z", id])],
    ["/api/me/events", writeCursor(["t", "2026-02-30T10:00:00.000000Z", id])],
    ["/api/me/participations", writeCursor(["q", 1e308])],
  ] as const;

  it("answers 400 on `cursor` for dates that do not exist, year 0000 and ranks PostgreSQL cannot hold", async () => {
    for (const [path, cursor] of handMade) {
      const url = `${path}${path.includes("?") ? "&" : "?"}cursor=${cursor}`;
      const response = await t.app.inject({ url, headers: bearer(organizer) });
      expect([response.statusCode, errorCode(response), detailPaths(response)], url).toEqual([
        400,
        "validation.failed",
        ["cursor"],
      ]);
    }
  });

  it("also refuses out-of-range times in filters and bodies (year 0000 plus an offset is year -1)", async () => {
    const filter = await call("GET", "/api/events?from=0000-01-01T00:00:00%2B14:00");
    expect([filter.statusCode, detailPaths(filter)]).toEqual([400, ["from"]]);
    const body = await call(
      "POST",
      "/api/events",
      organizer,
      eventBody(t, { startsAt: "0000-01-01T00:00:00+14:00" }),
    );
    expect([body.statusCode, detailPaths(body)]).toEqual([400, ["startsAt"]]);
  });
});
