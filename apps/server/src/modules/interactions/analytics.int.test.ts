import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { sizablePartitionScans } from "../../../test/plans.ts";
import { computeAnalyticsTick } from "./index.ts";

// The analytics queries on rows written straight into the interactions table (the pipeline has its own
// tests): results, role scoping, and plans on a generated volume.

let t: TestApp;
let admin: CreatedUser;
let organizer: CreatedUser;
let stranger: CreatedUser;
let eventId: string;
let otherEventId: string;
const NOW = Date.now();
const minute = (offset: number) => new Date(Math.floor(NOW / 60_000) * 60_000 + offset * 60_000);

interface Row {
  id?: string;
  type: "page" | "track" | "identify";
  name?: string;
  at: Date;
  anonymousId: string;
  sessionId: string;
  path?: string;
  eventId?: string;
  referrer?: string;
  device?: string;
}

async function insertRows(rows: Row[]): Promise<void> {
  for (const day of new Set(rows.map((row) => row.at.toISOString().slice(0, 10)))) {
    await sql`SELECT ensure_interaction_partition(${day}::date)`.execute(t.deps.db);
  }
  await t.deps.db
    .insertInto("interactions")
    .values(
      rows.map((row) => ({
        source_id: "00000000-0000-7000-8000-000000000001",
        id: row.id ?? randomUUID(),
        type: row.type,
        name: row.name ?? null,
        timestamp: row.at,
        received_at: row.at,
        anonymous_id: row.anonymousId,
        session_id: row.sessionId,
        event_id: row.eventId ?? null,
        path: row.path ?? null,
        referrer: row.referrer ?? null,
        properties: row.eventId === undefined ? null : JSON.stringify({ eventId: row.eventId }),
        device: row.device ?? "desktop",
        browser: "Chrome",
        os: "Linux",
      })),
    )
    .execute();
}

beforeAll(async () => {
  t = await createTestApp();
  admin = await createUser(t, { role: "admin" });
  organizer = await createUser(t);
  stranger = await createUser(t);
  eventId = (await createPublished(t, organizer)).id;
  otherEventId = (await createPublished(t, admin)).id;
  const journey = (session: string, steps: Row["type"][], names: string[], offset: number): Row[] =>
    steps.map((type, index) => ({
      type,
      name: type === "track" ? names[index] : undefined,
      path: type === "page" ? `/events/${eventId}` : undefined,
      at: minute(offset + index),
      anonymousId: `visitor-${session}`,
      sessionId: session,
      eventId,
      referrer: "https://search.test/",
      device: session === "s3" ? "mobile" : "desktop",
    }));
  await insertRows([
    // s1 views, clicks join and joins; s2 views and clicks; s3 only views; s4 joins before viewing.
    ...journey("s1", ["page", "track", "track"], ["", "join_clicked", "joined"], -10),
    ...journey("s2", ["page", "track"], ["", "join_clicked"], -8),
    ...journey("s3", ["page"], [], -3),
    ...journey("s4", ["track", "page"], ["joined", ""], -2),
    {
      type: "page",
      at: minute(-1),
      anonymousId: "elsewhere",
      sessionId: "s9",
      path: "/",
      eventId: otherEventId,
    },
  ]);
});
afterAll(() => t.close());

const get = (url: string, user: CreatedUser | null) =>
  t.app.inject({ url, headers: user === null ? {} : bearer(user) });

describe("who may query", () => {
  it("lets organizers query their own event only, and staff everything", async () => {
    expect((await get(`/api/analytics/top?dimension=path&eventId=${eventId}`, organizer)).statusCode).toBe(
      200,
    );
    for (const [url, user] of [
      ["/api/analytics/top?dimension=path", organizer],
      [`/api/analytics/top?dimension=path&eventId=${otherEventId}`, organizer],
      [`/api/analytics/live?eventId=${eventId}`, stranger],
    ] as const) {
      const response = await get(url, user);
      expect(response.statusCode, url).toBe(403);
      expect(errorCode(response)).toBe("auth.forbidden");
    }
    expect((await get("/api/analytics/top?dimension=path", admin)).statusCode).toBe(200);
    expect((await get("/api/analytics/top?dimension=path", null)).statusCode).toBe(401);
  });
});

describe("results", () => {
  it("counts a timeseries per minute, with zeros where nothing happened", async () => {
    const from = minute(-10).toISOString();
    const to = minute(0).toISOString();
    const response = await get(
      `/api/analytics/timeseries?metric=pageviews&interval=minute&from=${from}&to=${to}&eventId=${eventId}`,
      organizer,
    );
    const body = response.json<{ points: { t: string; value: number }[] }>();
    expect(body.points).toHaveLength(10);
    expect(body.points.map((point) => point.value)).toEqual([1, 0, 1, 0, 0, 0, 0, 1, 0, 1]);
    expect(body.points[0]?.t).toBe(from);
  });

  it("ranks the top values of a dimension", async () => {
    const response = await get(`/api/analytics/top?dimension=device&eventId=${eventId}`, organizer);
    expect(response.json()).toEqual({
      dimension: "device",
      items: [
        { value: "desktop", count: 7 },
        { value: "mobile", count: 1 },
      ],
    });
  });

  it("counts sessions through the funnel's steps in order", async () => {
    const steps = "page:/events/:id,track:join_clicked,track:joined";
    const response = await get(
      `/api/analytics/funnel?steps=${encodeURIComponent(steps)}&eventId=${eventId}`,
      organizer,
    );
    expect(response.json()).toEqual({
      steps: [
        { step: "page:/events/:id", count: 4, conversion: 1 },
        { step: "track:join_clicked", count: 2, conversion: 0.5 },
        { step: "track:joined", count: 1, conversion: 0.25 },
      ],
    });
  });

  it("pages through interactions newest first without gaps or repeats", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/analytics/interactions?eventId=${eventId}&limit=3${cursor === null ? "" : `&cursor=${cursor}`}`;
      const page = (await get(url, organizer)).json<{
        items: { id: string; timestamp: string }[];
        nextCursor: string | null;
      }>();
      seen.push(...page.items.map((item) => item.timestamp));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toHaveLength(8);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it("shows visitors now and the last five minutes, and the dashboard tick", async () => {
    const live = (await get(`/api/analytics/live?eventId=${eventId}`, organizer)).json<{
      visitorsNow: number;
      perMinute: { count: number }[];
    }>();
    expect(live.visitorsNow).toBe(2);
    expect(live.perMinute).toHaveLength(5);
    expect(live.perMinute.reduce((sum, point) => sum + point.count, 0)).toBe(3);
    const tick = await computeAnalyticsTick(t.deps.db, eventId, new Date(minute(-1).getTime() + 30_000));
    expect(tick).toMatchObject({ eventId, visitorsNow: 2, viewsPerMinute: 1, joinsPerMinute: 0 });
  });
});

describe("plans on a generated volume", () => {
  const ROWS = 300_000;
  beforeAll(async () => {
    const start = new Date(NOW - 2 * 86_400_000);
    for (let day = -3; day <= 1; day++) {
      await sql`SELECT ensure_interaction_partition((now() + ${`${day} days`}::interval)::date)`.execute(
        t.deps.db,
      );
    }
    // 300,000 interactions over two days, spread across 1,000 events; bounded so it stays a few seconds here.
    await sql`
      INSERT INTO interactions (source_id, id, type, name, "timestamp", received_at, anonymous_id, session_id,
                                event_id, path, device, browser, os)
      SELECT '00000000-0000-7000-8000-000000000001', 'gen-' || g, CASE WHEN g % 3 = 0 THEN 'page' ELSE 'track' END,
             CASE WHEN g % 3 = 0 THEN NULL ELSE 'clicked' END,
             ${start}::timestamptz + (g * interval '0.57 second'), now(), 'visitor-' || (g % 20000), 'session-' || (g % 50000),
             ('00000000-0000-7000-8000-' || lpad(to_hex(g % 1000), 12, '0'))::uuid, '/events/' || (g % 1000),
             'desktop', 'Chrome', 'Linux'
      FROM generate_series(1, ${ROWS}) AS g`.execute(t.deps.db);
    await sql`ANALYZE interactions`.execute(t.deps.db);
  }, 120_000);

  it("answers an organizer's queries from the (event_id, timestamp) index, well under 200 ms", async () => {
    const hot = "00000000-0000-7000-8000-000000000007";
    const from = new Date(NOW - 3 * 86_400_000).toISOString();
    const { rows } = await sql<{ "QUERY PLAN": string }>`
      EXPLAIN SELECT count(*) FROM interactions
      WHERE "timestamp" >= ${from}::timestamptz AND "timestamp" < now() AND event_id = ${hot}::uuid`.execute(
      t.deps.db,
    );
    const plan = rows.map((row) => row["QUERY PLAN"]);
    // Bitmap, plain or index-only (once autovacuum has set the visibility map): any scan of that index.
    expect(plan.join("\n")).toMatch(
      /(Bitmap Index Scan on|Index (Only )?Scan using) interactions_\d{8}_event_id_timestamp_idx/,
    );
    expect(sizablePartitionScans(plan.join("\n"))).toEqual([]);
    const urls = [
      `/api/analytics/timeseries?metric=visitors&interval=hour&from=${from}&eventId=${hot}`,
      `/api/analytics/top?dimension=path&from=${from}&eventId=${hot}`,
      `/api/analytics/funnel?steps=page:/events/:id,track:clicked&from=${from}&eventId=${hot}`,
      `/api/analytics/interactions?from=${from}&eventId=${hot}`,
      `/api/analytics/live?eventId=${hot}`,
    ];
    for (const url of urls) {
      const started = performance.now();
      const response = await get(url, admin);
      const ms = performance.now() - started;
      expect(response.statusCode, url).toBe(200);
      expect(ms, url).toBeLessThan(200);
    }
  });
});
