import { gunzipSync } from "node:zlib";
import { eventPageSchema } from "@turnout/contracts";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createUser, type CreatedUser } from "../../../test/factories.ts";
import { createCall, createDraft, createPublished, eventOf } from "../../../test/events.support.ts";

// With the read cache on: reads are shared, local writes show at once, drafts never leak.

let t: TestApp;
let organizer: CreatedUser;
const call = createCall(() => t);

beforeAll(async () => {
  t = await createTestApp({ env: { READ_CACHE_MS: "60000" } });
  organizer = await createUser(t);
});
afterAll(() => t.close());

// A write the app does not see, as another process would make it.
async function renameBehindTheAppsBack(id: string, title: string) {
  await t.deps.db.updateTable("events").set({ title }).where("id", "=", id).execute();
}

function feedTitles(response: LightMyRequestResponse): string[] {
  return eventPageSchema.parse(response.json()).items.map((item) => item.title);
}

describe("read cache", () => {
  it("serves an event page from memory, with its ETag, until a local write forgets it", async () => {
    const event = await createPublished(t, organizer, { title: "Before" });
    const first = await call("GET", `/api/events/${event.id}`);
    expect(first.headers.etag).toBe('"2"');
    await renameBehindTheAppsBack(event.id, "Written elsewhere");
    const cached = await call("GET", `/api/events/${event.id}`);
    expect(eventOf(cached).title).toBe("Before");
    expect(cached.headers.etag).toBe('"2"');
    expect(cached.headers["content-type"]).toBe("application/json; charset=utf-8");

    const patched = await call("PATCH", `/api/events/${event.id}`, organizer, { title: "After" });
    expect(patched.statusCode).toBe(200);
    const fresh = await call("GET", `/api/events/${event.id}`);
    expect(eventOf(fresh)).toMatchObject({ title: "After", version: 3 });
    expect(fresh.headers.etag).toBe('"3"');
  });

  it("shows a newly published event in the feed at once, even when the feed was cached", async () => {
    const tag = `tag${Date.now()}`;
    await createPublished(t, organizer, { title: "First", tags: [tag] });
    expect(feedTitles(await call("GET", `/api/events?tag=${tag}`))).toEqual(["First"]);
    const second = await createPublished(t, organizer, { title: "Second", tags: [tag] }, 48);
    expect(feedTitles(await call("GET", `/api/events?tag=${tag}`))).toEqual(["First", "Second"]);
    await renameBehindTheAppsBack(second.id, "Renamed elsewhere");
    expect(feedTitles(await call("GET", `/api/events?tag=${tag}`))).toEqual(["First", "Second"]);
  });

  it("gzips a large cached page for clients that accept it, once, and sends the same JSON", async () => {
    const tag = `gzip${Date.now()}`;
    for (let i = 0; i < 5; i++) {
      await createPublished(t, organizer, { title: `Long ${i}`, tags: [tag], description: "x".repeat(400) });
    }
    const url = `/api/events?tag=${tag}`;
    const plain = await t.app.inject({ method: "GET", url });
    const gzipped = await t.app.inject({ method: "GET", url, headers: { "accept-encoding": "gzip, br" } });
    const again = await t.app.inject({ method: "GET", url, headers: { "accept-encoding": "gzip" } });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.headers.vary).toBe("accept-encoding");
    expect(gzipped.headers["content-encoding"]).toBe("gzip");
    expect(gzipped.headers.vary).toBe("accept-encoding");
    expect(gzipped.rawPayload.length).toBeLessThan(plain.rawPayload.length / 4);
    const unzipped = gunzipSync(gzipped.rawPayload).toString("utf8");
    expect(unzipped).toBe(plain.body);
    expect(again.rawPayload.equals(gzipped.rawPayload)).toBe(true);
    expect(eventPageSchema.parse(JSON.parse(unzipped)).items).toHaveLength(5);
  });

  it("sends small pages as they are, whatever the client accepts", async () => {
    const event = await createPublished(t, organizer, { title: "Small" });
    const response = await t.app.inject({
      method: "GET",
      url: `/api/events/${event.id}`,
      headers: { "accept-encoding": "gzip" },
    });
    expect(response.headers["content-encoding"]).toBeUndefined();
    expect(eventOf(response).title).toBe("Small");
  });

  it("never shares a draft: the organizer sees it, nobody else", async () => {
    const draft = await createDraft(t, organizer);
    const stranger = await createUser(t);
    expect((await call("GET", `/api/events/${draft.id}`, organizer)).statusCode).toBe(200);
    expect((await call("GET", `/api/events/${draft.id}`)).statusCode).toBe(404);
    expect((await call("GET", `/api/events/${draft.id}`, stranger)).statusCode).toBe(404);
  });
});
