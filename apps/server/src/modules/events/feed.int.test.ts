import { categoryListSchema, type Event, eventPageSchema, type EventPage } from "@turnout/contracts";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, createUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { createManualClock } from "../../platform/clock.ts";
import { createDraft, createPublished } from "../../../test/events.support.ts";

const HOUR = 60 * 60 * 1000;
const clock = createManualClock(new Date("2026-05-01T08:00:00Z"));
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ deps: { clock } });
});
afterAll(() => t.close());

async function getFeed(query: string): Promise<EventPage> {
  const response = await t.app.inject({ method: "GET", url: `/api/events?${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return eventPageSchema.parse(response.json());
}

/** Every page of a feed query, following nextCursor; `between` runs after each page. */
async function readAll(query: string, limit: number, between?: () => Promise<void>): Promise<Event[]> {
  const items: Event[] = [];
  let cursor: string | null = null;
  do {
    const page: EventPage = await getFeed(
      `${query}&limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`,
    );
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.nextCursor;
    if (cursor !== null && between !== undefined) await between();
  } while (cursor !== null);
  return items;
}

const titles = (events: Event[]) => events.map((event) => event.title);
const ids = (events: Event[]) => events.map((event) => event.id);

describe("GET /api/events", () => {
  it("lists published public events that have not ended, by start time then id", async () => {
    const organizer = await createUser(t);
    const at = (hours: number) => ({
      startsAt: new Date(clock.now().getTime() + hours * HOUR).toISOString(),
    });
    const long = await createPublished(t, organizer, {
      title: "Festival",
      ...at(-72),
      endsAt: new Date(clock.now().getTime() + 48 * HOUR).toISOString(),
    });
    const ended = await createPublished(t, organizer, { title: "Ended yesterday" }, -1);
    const moved = await t.app.inject({
      method: "PATCH",
      url: `/api/events/${ended.id}`,
      headers: bearer(organizer),
      payload: { ...at(-26), endsAt: new Date(clock.now().getTime() - 24 * HOUR).toISOString() },
    });
    expect(moved.json()).toMatchObject({ status: "published", ended: true });
    await createPublished(t, organizer, { title: "Running" }, -1);
    await createPublished(t, organizer, { title: "Tomorrow" }, 24);
    await createPublished(t, organizer, { title: "Unlisted", visibility: "unlisted" }, 24.5);
    await createDraft(t, organizer, { title: "Draft" }, 25);
    const cancelled = await createPublished(t, organizer, { title: "Cancelled" }, 26);
    await t.app.inject({
      method: "POST",
      url: `/api/events/${cancelled.id}/cancel`,
      headers: bearer(organizer),
      payload: { reason: "x" },
    });

    const feed = await readAll(`organizer=${organizer.user.id}`, 20);
    expect(titles(feed)).toEqual(["Festival", "Running", "Tomorrow"]);
    expect(feed[0]).toEqual(long);
    expect(feed.every((event) => !event.ended)).toBe(true);
  });

  it("drops events as the clock passes their end", async () => {
    const organizer = await createUser(t);
    await createPublished(t, organizer, { title: "Soon over" }, -1.5);
    await createPublished(t, organizer, { title: "Later" }, 3);
    expect(titles(await readAll(`organizer=${organizer.user.id}`, 20))).toEqual(["Soon over", "Later"]);
    clock.advance(31 * 60 * 1000);
    expect(titles(await readAll(`organizer=${organizer.user.id}`, 20))).toEqual(["Later"]);
  });

  it("pages without gaps or repeats while events are inserted between pages, ties broken by id", async () => {
    const organizer = await createUser(t);
    const existing: Event[] = [];
    for (let index = 0; index < 23; index++) {
      // Events come in pairs sharing a start time, so ids must break the ties.
      const hours = 10 + Math.floor((index * 2) / 3);
      existing.push(await createPublished(t, organizer, { title: `E${index}` }, hours));
    }
    let inserted = 0;
    const feed = await readAll(`organizer=${organizer.user.id}`, 4, async () => {
      // One event before everything read so far, one somewhere ahead, one at the very end.
      inserted++;
      await createPublished(t, organizer, { title: `Early ${inserted}` }, 5);
      await createPublished(t, organizer, { title: `Ahead ${inserted}` }, 10 + 3 * inserted);
      await createPublished(t, organizer, { title: `Late ${inserted}` }, 100 + inserted);
    });
    const seen = ids(feed);
    expect(new Set(seen).size).toBe(seen.length);
    for (const event of existing) expect(seen).toContain(event.id);
    const sorted = [...feed].sort((a, b) => a.startsAt.localeCompare(b.startsAt) || a.id.localeCompare(b.id));
    expect(ids(sorted)).toEqual(seen);
    expect(titles(feed).some((title) => title.startsWith("Early"))).toBe(false);
    expect(titles(feed).filter((title) => title.startsWith("Late"))).toHaveLength(inserted);
  });

  it("keeps start times apart that differ by a microsecond (written by SQL, not the API)", async () => {
    const organizer = await createUser(t);
    const created: Event[] = [];
    for (let index = 0; index < 4; index++) created.push(await createPublished(t, organizer, {}, 50));
    // Later times on smaller ids: a cursor cut to milliseconds would then return the first event again.
    const byIdDescending = [...created].sort((a, b) => b.id.localeCompare(a.id));
    for (const [index, event] of byIdDescending.entries()) {
      await sql`
        UPDATE events SET starts_at = starts_at + ${index} * interval '1 microsecond'
        WHERE id = ${event.id}`.execute(t.deps.db);
    }
    const feed = await readAll(`organizer=${organizer.user.id}`, 1);
    expect(new Set(ids(feed))).toEqual(new Set(ids(created)));
    expect(feed).toHaveLength(4);
  });

  it("filters by category, tag, organizer, from (inclusive) and to (exclusive)", async () => {
    const organizer = await createUser(t);
    const start = (hours: number) => new Date(clock.now().getTime() + hours * HOUR).toISOString();
    await createPublished(t, organizer, { title: "Jazz", category: "music", tags: ["jazz", "live"] }, 200);
    await createPublished(t, organizer, { title: "Rock", category: "music", tags: ["rock", "live"] }, 201);
    await createPublished(t, organizer, { title: "Rust", category: "tech", tags: ["rust"] }, 202);
    const other = await createUser(t);
    await createPublished(t, other, { title: "Other jazz", category: "music", tags: ["jazz"] }, 203);

    const mine = `organizer=${organizer.user.id}`;
    expect(titles(await readAll(`${mine}&category=music`, 20))).toEqual(["Jazz", "Rock"]);
    expect(titles(await readAll(`${mine}&tag=LIVE`, 20))).toEqual(["Jazz", "Rock"]);
    expect(titles(await readAll(`tag=jazz&from=${start(199)}`, 20))).toEqual(["Jazz", "Other jazz"]);
    expect(titles(await readAll(`${mine}&from=${start(201)}`, 20))).toEqual(["Rock", "Rust"]);
    expect(titles(await readAll(`${mine}&to=${start(201)}`, 20))).toEqual(["Jazz"]);
    expect(titles(await readAll(`${mine}&from=${start(200)}&to=${start(202)}&tag=live`, 20))).toEqual([
      "Jazz",
      "Rock",
    ]);
    expect(titles(await readAll(`${mine}&category=food`, 20))).toEqual([]);
  });

  it("searches title, description and venue; a title match outranks a description match", async () => {
    const organizer = await createUser(t);
    const mine = `organizer=${organizer.user.id}`;
    await createPublished(t, organizer, { title: "Board games", description: "Bring your chess set." }, 48);
    await createPublished(t, organizer, { title: "Chess tournament", description: "Rapid rounds." }, 72);
    await createPublished(
      t,
      organizer,
      { title: "Quiz", venue: { name: "The Chess Club", address: "Rook lane 2" } },
      24,
    );
    await createPublished(t, organizer, { title: "Knitting", description: "Needles provided." }, 12);
    expect(titles(await readAll(`${mine}&q=chess`, 20))).toEqual(["Chess tournament", "Board games", "Quiz"]);
    expect(titles(await readAll(`${mine}&q=${encodeURIComponent('"rapid rounds"')}`, 20))).toEqual([
      "Chess tournament",
    ]);
    expect(titles(await readAll(`${mine}&q=tournaments`, 20))).toEqual(["Chess tournament"]);
    // ts_rank scores negated terms oddly, so only which events match is checked here.
    const withoutGames = await readAll(`${mine}&q=${encodeURIComponent("chess -games")}`, 20);
    expect(titles(withoutGames).sort()).toEqual(["Chess tournament", "Quiz"]);
    expect(titles(await readAll(`${mine}&q=the`, 20))).toEqual([]);
  });

  it("pages a search by rank, then start, then id, without repeats", async () => {
    const organizer = await createUser(t);
    const mine = `organizer=${organizer.user.id}`;
    for (let index = 0; index < 7; index++) {
      await createPublished(t, organizer, { title: `Salsa night ${index}` }, 30 + index);
      await createPublished(
        t,
        organizer,
        { title: `Dance ${index}`, description: "Salsa and more" },
        30 + index,
      );
    }
    const feed = await readAll(`${mine}&q=salsa`, 3);
    expect(feed).toHaveLength(14);
    expect(new Set(ids(feed)).size).toBe(14);
    expect(titles(feed).slice(0, 7)).toEqual([0, 1, 2, 3, 4, 5, 6].map((index) => `Salsa night ${index}`));
  });

  it("answers 400 validation.failed for bad cursors, limits and filters", async () => {
    const plain = await getFeed("limit=1");
    const search = await getFeed("limit=1&q=salsa");
    expect(plain.nextCursor).not.toBeNull();
    expect(search.nextCursor).not.toBeNull();
    const bad = [
      "cursor=not-a-cursor",
      `cursor=${Buffer.from('["t","yesterday","x"]').toString("base64url")}`,
      `q=salsa&cursor=${plain.nextCursor ?? ""}`,
      `cursor=${search.nextCursor ?? ""}`,
      "limit=0",
      "limit=101",
      "limit=ten",
      "category=knitting",
      "from=yesterday",
      "organizer=nobody",
    ];
    for (const query of bad) {
      const response = await t.app.inject({ method: "GET", url: `/api/events?${query}` });
      expect(response.statusCode, query).toBe(400);
      expect(errorCode(response), query).toBe("validation.failed");
    }
    expect((await getFeed("")).items.length).toBe(20);
  });
});

describe("GET /api/categories", () => {
  it("lists every category with its upcoming count, recounted after at most 5 s", async () => {
    const read = async () => {
      const response = await t.app.inject({ method: "GET", url: "/api/categories" });
      expect(response.statusCode).toBe(200);
      return categoryListSchema.parse(response.json()).items;
    };
    const before = await read();
    expect(before.map((item) => item.slug)).toEqual([
      "music",
      "tech",
      "sports",
      "arts",
      "food",
      "community",
      "business",
      "education",
      "wellness",
      "outdoors",
      "other",
    ]);
    expect(before.find((item) => item.slug === "food")).toMatchObject({ name: "Food & Drink" });
    const food = (items: typeof before) => items.find((item) => item.slug === "food")?.upcomingCount;
    const organizer = await createUser(t);
    await createPublished(t, organizer, { category: "food" }, 5);
    await createPublished(t, organizer, { category: "food" }, 6);
    await createDraft(t, organizer, { category: "food" });
    expect(food(await read())).toBe(food(before));
    clock.advance(5_000);
    expect(food(await read())).toBe((food(before) ?? 0) + 2);
  });
});
