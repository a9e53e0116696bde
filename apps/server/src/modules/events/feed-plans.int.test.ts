import { type Compilable, CompiledQuery, sql } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";
import { buildOrganizerEventsQuery } from "./events.repo.ts";
import { buildCategoryCountQuery, buildFeedQuery, type FeedFilter, type FeedPage } from "./feed.repo.ts";

// The discovery feed must be served from indexes: on 100,000 events (a year and a half of history and as
// much future), EXPLAIN of every query shape the repo builds shows no sequential scan of events.
// SHOW_PLANS=1 prints each plan.

const EVENT_COUNT = 100_000;
const NOW = new Date("2026-06-01T12:00:00Z");
const ORGANIZER = "00000000-0000-7000-8000-000000000007";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  await sql`
    INSERT INTO users (id, email, name, password_hash, role)
    SELECT
      ('00000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
      'organizer' || n || '@example.test', 'Organizer ' || n, 'not-a-hash', 'user'
    FROM generate_series(1, 1000) AS n
  `.execute(database.db);
  await sql`
    -- Starts spread over 800 days around NOW; 1 to 6 hours long, every 500th one a 10-day festival;
    -- 85% published, 10% drafts, 5% cancelled; 10% unlisted; eleven categories; two of 40 tags.
    INSERT INTO events (id, organizer_id, title, description, starts_at, ends_at, timezone, venue, category,
                        tags, capacity, visibility, status)
    SELECT
      gen_random_uuid(),
      ('00000000-0000-7000-8000-' || lpad(to_hex(1 + n % 1000), 12, '0'))::uuid,
      (ARRAY['Jazz', 'Rust', 'Yoga', 'Chess', 'Salsa', 'Pottery', 'Startup', 'Trail'])[1 + n % 8]
        || ' ' || (ARRAY['night', 'meetup', 'workshop', 'class', 'festival', 'evening'])[1 + n % 6] || ' ' || n,
      'An event about ' || (ARRAY['music', 'code', 'health', 'games', 'dance', 'craft', 'money'])[1 + n % 7]
        || ' for everyone. Bring friends.',
      ${NOW}::timestamptz + (n % 800 - 400) * interval '1 day' + (n % 97) * interval '13 minutes',
      ${NOW}::timestamptz + (n % 800 - 400) * interval '1 day' + (n % 97) * interval '13 minutes'
        + CASE WHEN n % 500 = 0 THEN interval '10 days' ELSE (1 + n % 6) * interval '1 hour' END,
      'Europe/Berlin',
      jsonb_build_object('name', 'Hall ' || n % 300, 'address', (n % 90) || ' Main street, Berlin'),
      (ARRAY['music', 'tech', 'sports', 'arts', 'food', 'community', 'business', 'education', 'wellness',
             'outdoors', 'other'])[1 + n % 11],
      ARRAY['tag' || n % 40, 'tag' || (n * 7) % 40],
      50,
      CASE WHEN n % 10 = 3 THEN 'unlisted' ELSE 'public' END,
      CASE WHEN n % 20 IN (1, 2) THEN 'draft' WHEN n % 20 = 5 THEN 'cancelled' ELSE 'published' END
    FROM generate_series(1, ${EVENT_COUNT}) AS n
  `.execute(database.db);
  // Exhibitions running for months: an ordered walk from the oldest running event would cross all of them.
  await sql`
    INSERT INTO events (id, organizer_id, title, starts_at, ends_at, timezone, category, visibility, status)
    SELECT gen_random_uuid(), ${ORGANIZER}::uuid, 'Exhibition ' || n,
      ${NOW}::timestamptz - n * interval '3 days', ${NOW}::timestamptz + n * interval '1 day',
      'Europe/Berlin', 'arts', 'public', 'published'
    FROM generate_series(1, 30) AS n
  `.execute(database.db);
  await sql`ANALYZE users, events`.execute(database.db);
}, 120_000);
afterAll(() => database.drop());

async function planOf(name: string, query: Compilable): Promise<string[]> {
  const compiled = query.compile();
  const result = await database.db.executeQuery<{ "QUERY PLAN": string }>(
    CompiledQuery.raw(`EXPLAIN (ANALYZE, COSTS OFF) ${compiled.sql}`, [...compiled.parameters]),
  );
  const lines = result.rows.map((row) => row["QUERY PLAN"]);
  if (process.env.SHOW_PLANS === "1") console.info(`--- ${name}\n${lines.join("\n")}`);
  return lines;
}

const someTime = (days: number) => new Date(NOW.getTime() + days * 24 * 60 * 60 * 1000);
// A cursor key as the repo makes them: microsecond text and an id.
const cursorAt = (days: number) => ({
  startsAt: someTime(days).toISOString().replace("Z", "000Z"),
  id: "00000000-0000-4000-8000-000000000000",
});

const FEED_SHAPES: [name: string, filter: FeedFilter, after?: FeedPage["after"]][] = [
  ["first page", {}],
  ["a later page", {}, cursorAt(30)],
  ["by category", { category: "food" }],
  ["by category, later page", { category: "food" }, cursorAt(30)],
  ["by tag", { tag: "tag7" }],
  ["by organizer", { organizerId: ORGANIZER }],
  ["from/to", { from: someTime(60), to: someTime(67) }],
  ["search", { q: "salsa" }],
  ["search, later page", { q: "pottery workshop" }, { ...cursorAt(10), rank: "0.0607927" }],
  ["search by category", { q: "jazz", category: "music" }],
  ["everything", { q: "chess", category: "tech", tag: "tag3", from: someTime(1), to: someTime(200) }],
];

it.each(FEED_SHAPES)("serves the feed %s from indexes", async (name, filter, after) => {
  const plan = await planOf(name, buildFeedQuery(database.db, { filter, limit: 21, now: NOW, after }));
  expect(plan.filter((line) => /Seq Scan on events/.test(line))).toEqual([]);
  expect(plan.join("\n")).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
});

it("serves an organizer's own list from an index", async () => {
  const mine = await planOf("my events", buildOrganizerEventsQuery(database.db, ORGANIZER, { limit: 21 }));
  expect(mine.filter((line) => /Seq Scan on events/.test(line))).toEqual([]);
  expect(mine.join("\n")).toMatch(/Index Scan Backward using events_organizer_idx/);
});

// The category counts (cached 5 s per process) read every upcoming event. Here that is 37% of the table, so
// PostgreSQL rightly reads it sequentially; in a live instance, where history outgrows the future, the
// starts_at index takes over. The running part always comes from the GiST index.
it("counts running events per category from the GiST index", async () => {
  const counts = await planOf("category counts", buildCategoryCountQuery(database.db, NOW));
  expect(counts.join("\n")).toMatch(/Bitmap Index Scan on events_feed_ongoing_idx/);
});

it("holds the data the plans were measured on", async () => {
  const { rows } = await sql<{ listed: number; upcoming: number }>`
    SELECT count(*) FILTER (WHERE status = 'published' AND visibility = 'public')::int AS listed,
           count(*) FILTER (WHERE status = 'published' AND visibility = 'public' AND ends_at > ${NOW})::int
             AS upcoming
    FROM events`.execute(database.db);
  expect(rows[0]?.listed).toBeGreaterThan(70_000);
  expect(rows[0]?.upcoming).toBeGreaterThan(30_000);
});
