import type { StampedInteraction } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { copyLineItem, splitCopyLines } from "./copy-line.ts";
import { BUILTIN_SOURCE_ID } from "./index.ts";

// The collector in embedded mode: batches land in interaction_batches before the 202 (the processor's tests
// follow them into the interactions table). The JetStream driver has its own file.

let t: TestApp;
let admin: CreatedUser;
beforeAll(async () => {
  t = await createTestApp({ env: { SOURCES_REFRESH_MS: "100" } });
  admin = await createUser(t, { role: "admin" });
});
afterAll(() => t.close());

let counter = 0;
function interaction(overrides: Record<string, unknown> = {}) {
  counter += 1;
  return {
    id: `collector-test-${counter}-${Math.random().toString(36).slice(2)}`,
    type: "track",
    name: "clicked",
    timestamp: new Date(Date.now() - 1_000).toISOString(),
    anonymousId: "anon-1",
    sessionId: "session-1",
    properties: { eventId: "00000000-0000-7000-8000-00000000abcd" },
    context: { page: { path: "/events/1", url: "https://turnout.test/events/1", title: "E", referrer: "" } },
    ...overrides,
  };
}

/** The items appended so far, read back from their COPY lines (format 3), each with its batch's stamps. */
async function storedItems(): Promise<StampedInteraction[]> {
  const rows = await t.deps.db.selectFrom("interaction_batches").select("items").orderBy("seq").execute();
  return rows.flatMap((row) => {
    const batch = row.items as { v: number; hours: number[]; copy: string };
    expect(batch.v).toBe(3);
    return splitCopyLines(batch.copy).map((line) => {
      const item = copyLineItem(line) as Record<string, string | null>;
      expect(batch.hours).toContain(Math.floor(Date.parse(item.timestamp ?? "") / 3_600_000));
      const json = (text: string | null): Record<string, unknown> | undefined =>
        text === null ? undefined : (JSON.parse(text) as Record<string, unknown>);
      return {
        id: item.id ?? "",
        type: item.type as StampedInteraction["type"],
        name: item.name ?? undefined,
        timestamp: item.timestamp ?? "",
        anonymousId: item.anonymous_id ?? "",
        userId: item.user_id ?? undefined,
        sessionId: item.session_id ?? undefined,
        properties: json(item.properties ?? null),
        context: json(item.context ?? null),
        sourceId: item.source_id ?? "",
        receivedAt: item.received_at ?? "",
        ip: item.ip ?? null,
        device: item.device ?? "",
        browser: item.browser ?? "",
        os: item.os ?? "",
      };
    });
  });
}

async function storedIds(): Promise<Set<string>> {
  return new Set((await storedItems()).map((item) => item.id));
}

const CHROME_ON_ANDROID =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";

it("keeps the valid items, reports the invalid ones by index, and stamps what it keeps", async () => {
  const good = [interaction(), interaction({ type: "page", name: undefined })];
  const batch = [
    good[0],
    { ...interaction(), type: "click" },
    good[1],
    { ...interaction(), properties: { note: "a\u0000b" } },
    { ...interaction(), properties: { blob: "x".repeat(9_000) } },
    "not an object",
  ];
  const response = await t.app.inject({
    method: "POST",
    url: "/api/collect",
    headers: { "user-agent": CHROME_ON_ANDROID, "x-forwarded-for": "203.0.113.77" },
    remoteAddress: "198.51.100.23",
    payload: { batch },
  });
  expect(response.statusCode, response.body).toBe(202);
  const body = response.json<{ accepted: number; rejected: { index: number; code: string }[] }>();
  expect(body.accepted).toBe(2);
  expect(body.rejected.map((rejection) => [rejection.index, rejection.code])).toEqual([
    [1, "validation.failed"],
    [3, "validation.failed"],
    [4, "validation.failed"],
    [5, "validation.failed"],
  ]);
  const stored = (await storedItems()).filter((item) => good.some((g) => g.id === item.id));
  expect(stored).toHaveLength(2);
  expect(stored[0]).toMatchObject({
    id: good[0]?.id,
    sourceId: BUILTIN_SOURCE_ID,
    ip: "198.51.100.0",
    device: "mobile",
    browser: "Chrome",
    os: "Android",
  });
  expect(Date.parse(stored[0]?.receivedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
});

it("reads a sendBeacon body (text/plain) as JSON", async () => {
  const item = interaction();
  const response = await t.app.inject({
    method: "POST",
    url: "/api/collect",
    headers: { "content-type": "text/plain;charset=UTF-8" },
    payload: JSON.stringify({ batch: [item] }),
  });
  expect(response.statusCode, response.body).toBe(202);
  expect((await storedIds()).has(item.id)).toBe(true);
});

it("reads escapes in the JSON text: a NUL or a lone surrogate rejects its item, an escaped backslash does not", async () => {
  const items = [interaction(), interaction(), interaction(), interaction()];
  // By hand, as a client's JSON text: \u escapes of NUL and of a lone surrogate (in a field zod would drop),
  // and a text that only looks like one.
  const text = `{"batch":[${JSON.stringify(items[0])},${JSON.stringify({
    ...items[1],
    name: "PLACEHOLDER",
  }).replace(
    '"PLACEHOLDER"',
    '"a\\u0000b"',
  )},${JSON.stringify({ ...items[2], extra: "PLACEHOLDER" }).replace('"PLACEHOLDER"', '"\\uD800"')},${JSON.stringify(
    {
      ...items[3],
      name: "PLACEHOLDER",
    },
  ).replace('"PLACEHOLDER"', '"\\\\u0000 is text"')}]}`;
  for (const contentType of ["application/json", "text/plain"]) {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/collect",
      headers: { "content-type": contentType },
      payload: text,
    });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json()).toEqual({
      accepted: 2,
      rejected: [
        { index: 1, code: "validation.failed" },
        { index: 2, code: "validation.failed" },
      ],
    });
  }
  const stored = (await storedItems()).filter((item) => item.id === items[3]?.id);
  expect(stored.map((item) => item.name)).toEqual(["\\u0000 is text", "\\u0000 is text"]);
});

it("refuses a body nested deeper than 64 levels with 400 request.malformed", async () => {
  const deep = `{"batch":[${JSON.stringify(interaction()).replace(/}$/, `,"properties":{"a":${"[".repeat(70)}${"]".repeat(70)}}}`)}]}`;
  for (const contentType of ["application/json", "text/plain"]) {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/collect",
      headers: { "content-type": contentType },
      payload: deep,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      error: { code: "request.malformed", message: "The JSON body nests deeper than 64 levels." },
    });
  }
});

it("clamps a timestamp in the future to the time received", async () => {
  const item = interaction({ timestamp: "2099-01-01T00:00:00Z" });
  const before = Date.now();
  await t.app.inject({ method: "POST", url: "/api/collect", payload: { batch: [item] } });
  const stored = (await storedItems()).find((candidate) => candidate.id === item.id);
  expect(Date.parse(stored?.timestamp ?? "")).toBeGreaterThanOrEqual(before - 1);
  expect(Date.parse(stored?.timestamp ?? "")).toBeLessThanOrEqual(Date.now());
  expect(stored?.timestamp).toBe(stored?.receivedAt);
});

it("refuses an unknown write key with 401, a batch over 500 items or 1 MiB with 413, and stores nothing", async () => {
  const before = (await storedItems()).length;
  const unknown = await t.app.inject({
    method: "POST",
    url: "/api/collect",
    payload: { writeKey: "wk_nobody", batch: [interaction()] },
  });
  expect(unknown.statusCode).toBe(401);
  expect(errorCode(unknown)).toBe("source.invalid_key");
  const tooMany = await t.app.inject({
    method: "POST",
    url: "/api/collect",
    payload: { batch: Array.from({ length: 501 }, () => interaction()) },
  });
  expect(tooMany.statusCode).toBe(413);
  expect(errorCode(tooMany)).toBe("request.too_large");
  const tooBig = await t.app.inject({
    method: "POST",
    url: "/api/collect",
    payload: {
      batch: Array.from({ length: 200 }, () => interaction({ properties: { pad: "x".repeat(6_000) } })),
    },
  });
  expect(tooBig.statusCode).toBe(413);
  expect(errorCode(tooBig)).toBe("request.too_large");
  const notABatch = await t.app.inject({ method: "POST", url: "/api/collect", payload: { batch: "x" } });
  expect(notABatch.statusCode).toBe(400);
  expect(errorCode(notABatch)).toBe("validation.failed");
  expect((await storedItems()).length).toBe(before);
});

it("creates a source whose key works, lists it, and revokes it (the key then stops working)", async () => {
  const created = await t.app.inject({
    method: "POST",
    url: "/api/admin/sources",
    headers: bearer(admin),
    payload: { name: "Partner site" },
  });
  expect(created.statusCode, created.body).toBe(201);
  const source = created.json<{ id: string; name: string; writeKey: string }>();
  expect(source.writeKey).toMatch(/^wk_/);

  const listed = await t.app.inject({ url: "/api/admin/sources", headers: bearer(admin) });
  expect(listed.json<{ items: { id: string }[] }>().items.map((item) => item.id)).toContain(source.id);

  const send = () =>
    t.app.inject({
      method: "POST",
      url: "/api/collect",
      payload: { writeKey: source.writeKey, batch: [interaction()] },
    });
  await expect.poll(async () => (await send()).statusCode, { timeout: 5_000 }).toBe(202);
  const stored = (await storedItems()).filter((item) => item.sourceId === source.id);
  expect(stored.length).toBeGreaterThanOrEqual(1);

  const revoked = await t.app.inject({
    method: "DELETE",
    url: `/api/admin/sources/${source.id}`,
    headers: bearer(admin),
  });
  expect(revoked.statusCode).toBe(204);
  await expect.poll(async () => (await send()).statusCode, { timeout: 5_000 }).toBe(401);
  const again = await t.app.inject({
    method: "DELETE",
    url: `/api/admin/sources/${source.id}`,
    headers: bearer(admin),
  });
  expect(errorCode(again)).toBe("source.not_found");
});

it("keeps the sources admin to admins", async () => {
  const user = await createUser(t);
  const listed = await t.app.inject({ url: "/api/admin/sources", headers: bearer(user) });
  expect(listed.statusCode).toBe(403);
  const anonymous = await t.app.inject({ url: "/api/admin/sources" });
  expect(anonymous.statusCode).toBe(401);
  const builtin = await t.app.inject({
    method: "DELETE",
    url: `/api/admin/sources/${BUILTIN_SOURCE_ID}`,
    headers: bearer(admin),
  });
  expect(errorCode(builtin)).toBe("source.not_found");
});

it("maps the Segment calls: messageId to id, screen to page, group and alias to identify", async () => {
  const auth = { authorization: `Basic ${Buffer.from("").toString("base64")}` };
  const calls: [string, Record<string, unknown>][] = [
    ["track", { messageId: "seg-track-1", anonymousId: "a1", event: "joined", properties: { plan: "x" } }],
    ["screen", { messageId: "seg-screen-1", userId: "u1", name: "Home" }],
    ["group", { messageId: "seg-group-1", userId: "u1", groupId: "g1", traits: { size: 3 } }],
    ["alias", { messageId: "seg-alias-1", userId: "u1", previousId: "a1" }],
  ];
  for (const [type, message] of calls) {
    const response = await t.app.inject({
      method: "POST",
      url: `/v1/${type}`,
      headers: auth,
      payload: message,
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ success: true });
  }
  const stored = await storedItems();
  const byId = (id: string) => stored.find((item) => item.id === id);
  expect(byId("seg-track-1")).toMatchObject({ type: "track", name: "joined", properties: { plan: "x" } });
  expect(byId("seg-screen-1")).toMatchObject({ type: "page", name: "Home", userId: "u1", anonymousId: "u1" });
  expect(byId("seg-group-1")).toMatchObject({ type: "identify", properties: { size: 3, groupId: "g1" } });
  expect(byId("seg-alias-1")).toMatchObject({ type: "identify", properties: { previousId: "a1" } });
});

describe("ROLES=collector, with the stream backed up", () => {
  let backedUp: TestApp;
  beforeAll(async () => {
    backedUp = await createTestApp({ env: { COLLECTOR_MAX_BACKLOG: "2", ROLES: "collector" } });
  });
  afterAll(() => backedUp.close());

  it("serves the collector alone", async () => {
    for (const url of ["/api/events", "/api/admin/sources", "/api/openapi.json"]) {
      const response = await backedUp.app.inject({ url });
      expect(response.statusCode, url).toBe(404);
      expect(errorCode(response)).toBe("route.not_found");
    }
    const ready = await backedUp.app.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(200);
  });

  it("answers 429 with Retry-After once more batches wait than allowed", async () => {
    for (let index = 0; index < 3; index++) {
      const response = await backedUp.app.inject({
        method: "POST",
        url: "/api/collect",
        payload: { batch: [interaction()] },
      });
      expect(response.statusCode).toBe(202);
    }
    await expect
      .poll(
        async () =>
          (
            await backedUp.app.inject({
              method: "POST",
              url: "/api/collect",
              payload: { batch: [interaction()] },
            })
          ).statusCode,
        { timeout: 5_000 },
      )
      .toBe(429);
    const refused = await backedUp.app.inject({
      method: "POST",
      url: "/api/collect",
      payload: { batch: [interaction()] },
    });
    expect(errorCode(refused)).toBe("rate_limited");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    // Refused before its body is read: even a body that is not JSON gets the 429, not a 400.
    const unread = await backedUp.app.inject({
      method: "POST",
      url: "/api/collect",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    expect(unread.statusCode).toBe(429);
    expect(unread.headers["access-control-allow-origin"]).toBe("*");
  });
});
