import { Writable } from "node:stream";
import { errorBodySchema, eventSchema, validationDetailSchema } from "@turnout/contracts";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../test/factories.ts";
import { createPublished, eventBody } from "../test/events.support.ts";

/*
 * Small promises of API.md that sit at the edges of every route: replayed creates keep their ETag, the
 * reference page logs no error, caller-specific answers are private, documents carry a CSP, and a field
 * breaking several checks at once gets one validation detail.
 */

const logLines: { level: number; msg: string }[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    for (const line of chunk.toString().split("\n").filter(Boolean))
      logLines.push(JSON.parse(line) as { level: number; msg: string });
    callback();
  },
});

let t: TestApp;
let organizer: CreatedUser;

beforeAll(async () => {
  t = await createTestApp({ deps: { log: pino({ level: "info" }, logStream) } });
  organizer = await createUser(t);
});
afterAll(async () => {
  await t.close();
});

describe("idempotent replay of a create", () => {
  it("repeats the ETag with the stored status and body", async () => {
    const request = {
      method: "POST" as const,
      url: "/api/events",
      headers: { ...bearer(organizer), "idempotency-key": "create-with-etag" },
      payload: eventBody(t),
    };
    const first = await t.app.inject(request);
    const replay = await t.app.inject(request);

    expect(first.statusCode).toBe(201);
    const created = eventSchema.parse(first.json());
    expect(first.headers.etag).toBe(`"${created.version}"`);
    expect(replay.statusCode).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.headers.etag).toBe(first.headers.etag);
    expect(replay.json()).toEqual(first.json());
  });
});

describe("the reference page", () => {
  it("is served without an error in the log", async () => {
    logLines.length = 0;
    for (const url of [
      "/api/docs",
      "/api/docs/",
      "/api/docs/static/swagger-initializer.js",
      "/api/docs/json",
    ]) {
      const response = await t.app.inject({ url, headers: bearer(organizer) });
      expect(response.statusCode, url).toBeLessThan(400);
    }
    expect(logLines.filter((line) => line.level >= 40)).toEqual([]);
  });
});

describe("Cache-Control", () => {
  it("is private, no-store on answers to an authenticated caller", async () => {
    const event = await createPublished(t, organizer);
    const guest = await createUser(t);
    await t.app.inject({ method: "POST", url: `/api/events/${event.id}/join`, headers: bearer(guest) });
    const answers = [
      { url: "/api/me", who: guest, status: 200 },
      { url: "/api/me/calendar-url", who: guest, status: 200 },
      { url: "/api/me/events", who: organizer, status: 200 },
      { url: "/api/me/participations", who: guest, status: 200 },
      { url: `/api/events/${event.id}/participation`, who: guest, status: 200 },
      { url: `/api/events/${event.id}/participation`, who: organizer, status: 404 },
    ];
    for (const { url, who, status } of answers) {
      const response = await t.app.inject({ url, headers: bearer(who) });
      expect(response.statusCode, url).toBe(status);
      expect(response.headers["cache-control"], url).toBe("private, no-store");
    }
  });

  it("is private, no-store on the token pairs of login, register and refresh", async () => {
    const email = `cache-${Date.now()}@example.test`;
    const payload = { email, password: "long-enough-password", name: "Cache" };
    const registered = await t.app.inject({ method: "POST", url: "/api/auth/register", payload });
    const login = await t.app.inject({ method: "POST", url: "/api/auth/login", payload });
    const refresh = await t.app.inject({
      method: "POST",
      url: "/api/auth/refresh",
      payload: { refreshToken: login.json<{ refreshToken: string }>().refreshToken },
    });
    for (const [name, response] of Object.entries({ registered, login, refresh })) {
      expect(response.statusCode, name).toBeLessThan(300);
      expect(response.headers["cache-control"], name).toBe("private, no-store");
    }
  });

  it("leaves public answers and the secret calendar feed their own caching", async () => {
    const event = await createPublished(t, organizer);
    const feed = await t.app.inject({ url: "/api/events" });
    const page = await t.app.inject({ url: `/api/events/${event.id}` });
    const shell = await t.app.inject({ url: "/events/anything" });
    expect(feed.statusCode).toBe(200);
    expect(feed.headers["cache-control"]).toBeUndefined();
    expect(page.statusCode).toBe(200);
    expect(page.headers["cache-control"]).toBeUndefined();
    if (shell.statusCode === 200) expect(shell.headers["cache-control"]).toBe("no-cache");

    const calendarUrl = await t.app.inject({ url: "/api/me/calendar-url", headers: bearer(organizer) });
    const { url } = calendarUrl.json<{ url: string }>();
    const calendar = await t.app.inject({ url: new URL(url).pathname });
    expect(calendar.statusCode).toBe(200);
    expect(calendar.headers["cache-control"]).toBe("private, max-age=300");
  });
});

describe("Content-Security-Policy", () => {
  it("is on every document and on no JSON answer", async () => {
    for (const url of ["/", "/events/some-page", "/api/docs/"]) {
      const response = await t.app.inject({ url });
      const csp = String(response.headers["content-security-policy"]);
      expect(csp, url).toContain("default-src 'self'");
      expect(csp, url).toContain("script-src 'self'");
      expect(csp, url).toContain("object-src 'none'");
      expect(csp, url).not.toContain("unsafe-eval");
      expect(csp, url).not.toMatch(/script-src[^;]*unsafe-inline/);
    }
    const json = await t.app.inject({ url: "/api/events" });
    expect(json.headers["content-security-policy"]).toBeUndefined();
  });
});

describe("one validation detail per field", () => {
  it.each([1e308, 1e20, 2_000_000, 0, 1.5])("capacity %d gives exactly one detail", async (capacity) => {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/events",
      headers: bearer(organizer),
      payload: eventBody(t, { capacity }),
    });
    expect(response.statusCode).toBe(400);
    const body = errorBodySchema.parse(response.json());
    expect(body.error.code).toBe("validation.failed");
    const details = validationDetailSchema.array().parse(body.error.details);
    expect(details.map((detail) => detail.path)).toEqual(["capacity"]);
  });

  it("gives one detail for ?limit=1e308", async () => {
    const response = await t.app.inject({ url: "/api/events?limit=1e308" });
    expect(response.statusCode).toBe(400);
    const details = validationDetailSchema
      .array()
      .parse(errorBodySchema.parse(response.json()).error.details);
    expect(details.map((detail) => detail.path)).toEqual(["limit"]);
  });
});
