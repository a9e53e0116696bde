import type { StampedInteraction } from "@turnout/contracts";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";
import { createDb, type DbHandle } from "../../platform/db.ts";
import {
  pathPatternToLike,
  pathPatternToRegex,
  readFunnel,
  readTimeseries,
  readTop,
  type Range,
} from "./analytics.repo.ts";
import { loadBatches } from "./interactions-load.ts";
import { BUILTIN_SOURCE_ID } from "./sources.repo.ts";
import { rollUpHours, rollUpInteractions } from "./rollups.job.ts";

// ADR 0015 "Rollups" and ADR 0024: the staff's timeseries (per minute too), top and funnel, and an organizer's
// funnel read the whole hours from the hourly rollups and the rest from the raw rows. Their answers must be the
// raw rows' answers, exactly, over day boundaries, ranges given with any UTC offset, the open hour, late
// interactions, and a batch the stream delivers twice.

const NOW = new Date("2026-03-31T10:20:00.000Z");
const RETENTION_DAYS = 30;
const FIRST = Date.parse("2026-03-28T00:00:00.000Z");
const HOUR_MS = 3_600_000;

let database: TestDatabase;
let loader: DbHandle;

/** A small deterministic generator, so a failure can be repeated. */
function generator(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return Math.floor((state / 2_147_483_648) * n); // from the high bits: the low ones repeat quickly
  };
}

const PATHS = ["/", "/events/a", "/events/b", "/events/b/photos", "/me", "/ünïcode"];
const NAMES = ["join_clicked", "joined", "scrolled"];
/** The events interactions are about; every fourth interaction is about none. */
const EVENTS = [
  "00000000-0000-7000-8000-00000000000a",
  "00000000-0000-7000-8000-00000000000b",
  "00000000-0000-7000-8000-00000000000c",
];

/** `count` interactions spread over [from, to), every 13th exactly on an hour. */
function interactions(prefix: string, count: number, from: number, to: number, seed: number) {
  const random = generator(seed);
  return Array.from({ length: count }, (_unused, index): StampedInteraction => {
    let time = from + Math.floor(((to - from) * random(1_000_000)) / 1_000_000);
    if (index % 13 === 0) time = Math.floor(time / HOUR_MS) * HOUR_MS;
    const type = (["page", "page", "track", "identify"] as const)[random(4)] ?? "page";
    const referrer = ["", "https://search.test/", "https://social.test/"][random(3)];
    return {
      id: `${prefix}-${index}`,
      type,
      ...(type === "track" ? { name: NAMES[random(NAMES.length)] } : {}),
      timestamp: new Date(time).toISOString(),
      anonymousId: `visitor-${random(60)}`,
      ...(random(5) === 0 ? {} : { sessionId: `session-${random(200)}` }),
      ...(type === "page"
        ? {
            context: {
              page: {
                path: PATHS[random(PATHS.length)] ?? "/",
                url: "https://t.test/",
                title: "t",
                referrer,
              },
            },
          }
        : {}),
      ...(index % 4 === 3 ? {} : { properties: { eventId: EVENTS[index % 4] } }),
      sourceId: BUILTIN_SOURCE_ID,
      receivedAt: new Date(time).toISOString(),
      ip: null,
      device: random(3) === 0 ? "mobile" : "desktop",
      browser: "Chrome",
      os: "Linux",
    };
  });
}

/** Loads the items through the processor's load, in one transaction, as the processor does. */
async function load(items: StampedInteraction[]) {
  const client = await loader.pool.connect();
  try {
    await client.query("BEGIN");
    const result = await loadBatches(client, [{ items }], {
      retentionDays: RETENTION_DAYS,
      now: NOW,
      knownDays: new Set(),
    });
    await client.query("COMMIT");
    return result;
  } finally {
    client.release();
  }
}

const at = (iso: string) => new Date(iso);
const RANGES: [string, Range][] = [
  [
    "whole UTC days",
    { from: at("2026-03-28T00:00:00Z"), to: at("2026-03-31T00:00:00Z"), eventId: undefined },
  ],
  [
    "offsets +05:45 and -03:30",
    {
      from: at("2026-03-28T07:07:07.007+05:45"),
      to: at("2026-03-30T23:59:59.999-03:30"),
      eventId: undefined,
    },
  ],
  [
    "across midnight",
    { from: at("2026-03-29T23:10:00Z"), to: at("2026-03-30T01:50:00Z"), eventId: undefined },
  ],
  [
    "inside one hour",
    { from: at("2026-03-29T12:05:00Z"), to: at("2026-03-29T12:55:00Z"), eventId: undefined },
  ],
  [
    "exactly one hour",
    { from: at("2026-03-29T13:00:00Z"), to: at("2026-03-29T14:00:00Z"), eventId: undefined },
  ],
  ["the last 24 hours", { from: new Date(NOW.getTime() - 24 * HOUR_MS), to: NOW, eventId: undefined }],
  [
    "before the first row",
    { from: at("2026-03-27T20:30:00Z"), to: at("2026-03-28T02:00:00Z"), eventId: undefined },
  ],
];

const NO_EVENT = "00000000-0000-7000-8000-0000000000ff";

const FUNNELS = [
  ["page:/events/:id", "track:join_clicked", "track:joined"],
  ["page:/", "page:/events/:id/photos", "track:joined", "page:/"],
  ["page:/:any", "page:/:any", "page:/:any", "track:scrolled", "page:/events/b", "page:/events/b"],
];

/**
 * Every timeseries, top and funnel answer of every range (the funnels also of each event and of an event with no
 * interactions), from the rollups and from the raw rows alone.
 */
async function answers(from: "rollups" | "rows") {
  const db = loader.db;
  const result: Record<string, unknown> = {};
  for (const [name, range] of RANGES) {
    for (const [index, steps] of FUNNELS.entries()) {
      result[`${name} funnel ${index}`] = await readFunnel(db, range, steps, from);
      for (const eventId of [...EVENTS, NO_EVENT]) {
        result[`${name} funnel ${index} of ${eventId}`] = await readFunnel(
          db,
          { ...range, eventId },
          steps,
          from,
        );
      }
    }
    for (const metric of ["interactions", "pageviews", "visitors", "sessions"] as const) {
      for (const interval of ["minute", "hour", "day"] as const) {
        result[`${name} ${metric} per ${interval}`] = await readTimeseries(
          db,
          range,
          { metric, interval },
          from,
        );
      }
    }
    for (const dimension of ["path", "name", "referrer", "country", "device"] as const) {
      for (const limit of [2, 100]) {
        result[`${name} top ${limit} ${dimension}`] = await readTop(db, range, { dimension, limit }, from);
      }
    }
  }
  return result;
}

async function expectRollupsToMatchRows() {
  const fromRollups = await answers("rollups");
  expect(fromRollups).toEqual(await answers("rows"));
  return fromRollups;
}

const pendingMarks = async () =>
  (
    await sql<{ count: number }>`SELECT count(*)::int AS count FROM interaction_rollup_pending`.execute(
      loader.db,
    )
  ).rows[0]?.count;

/** The funnel by its definition: per session, each step's first time after the previous step's. */
function funnelOf(items: StampedInteraction[], range: Range, steps: string[]): number[] {
  const matches = (item: StampedInteraction, step: string) =>
    step.startsWith("page:")
      ? item.type === "page" &&
        new RegExp(pathPatternToRegex(step.slice(5))).test(item.context?.page?.path ?? "\n")
      : item.type === "track" && item.name === step.slice(6);
  const sessions = new Map<string, StampedInteraction[]>();
  for (const item of items) {
    const time = Date.parse(item.timestamp);
    if (item.sessionId === undefined || time < range.from.getTime() || time >= range.to.getTime()) continue;
    if (range.eventId !== undefined && item.properties?.eventId !== range.eventId) continue;
    sessions.set(item.sessionId, [...(sessions.get(item.sessionId) ?? []), item]);
  }
  const counts = steps.map(() => 0);
  for (const rows of sessions.values()) {
    let after = -Infinity;
    for (const [index, step] of steps.entries()) {
      const times = rows.filter((row) => matches(row, step)).map((row) => Date.parse(row.timestamp));
      const next = Math.min(...times.filter((time) => time > after));
      if (next === Infinity) break;
      counts[index] = (counts[index] ?? 0) + 1;
      after = next;
    }
  }
  return counts;
}

const firstBatch = interactions("a", 4_000, FIRST, NOW.getTime(), 1);

beforeAll(async () => {
  database = await createTestDatabase();
  loader = createDb(database.url, 2);
  // In four loads, as the processor would take them; some rows with a country, which only GeoIP would set.
  for (let part = 0; part < 4; part++) {
    const result = await load(firstBatch.slice(part * 1_000, (part + 1) * 1_000));
    expect(result.loaded).toBe(1_000);
  }
  await sql`UPDATE interactions SET country = CASE WHEN length(id) % 3 = 0 THEN 'DE' ELSE 'NP' END
            WHERE id LIKE 'a-1%'`.execute(loader.db);
  // The UPDATE changed rows behind the rollups' back; they are computed from here on.
  await sql`DELETE FROM interaction_rollup_pending`.execute(loader.db);
});

afterAll(async () => {
  await loader.close();
  await database.drop();
});

describe("the hourly rollups (ADR 0015)", () => {
  it("roll up every closed hour of the retention, and answer as the raw rows do", async () => {
    const beforeRollUp = await answers("rows");
    // 30 days before today's and 10 closed hours today; the open hour (10:00-10:20) stays raw.
    expect(await rollUpInteractions(loader.db, NOW, RETENTION_DAYS, 100)).toBe(30 * 24 + 10);
    expect(await rollUpInteractions(loader.db, NOW, RETENTION_DAYS, 100)).toBe(0);
    expect(await pendingMarks()).toBe(0);
    expect(await expectRollupsToMatchRows()).toEqual(beforeRollUp);
  });

  it("count the funnel as its definition says, from the funnel rollup and from the raw rows", async () => {
    // Every step of the first is reached by some session over the whole days.
    expect(funnelOf(firstBatch, RANGES[0]?.[1] as Range, FUNNELS[0] ?? [])).not.toContain(0);
    expect(
      funnelOf(firstBatch, { ...(RANGES[0]?.[1] as Range), eventId: EVENTS[0] }, FUNNELS[0] ?? [])[1],
    ).toBeGreaterThan(0);
    for (const [, everyEvent] of RANGES) {
      for (const range of [everyEvent, ...EVENTS.map((eventId) => ({ ...everyEvent, eventId }))]) {
        for (const steps of FUNNELS) {
          const expected = funnelOf(firstBatch, range, steps);
          expect(await readFunnel(loader.db, range, steps)).toEqual(expected);
          expect(await readFunnel(loader.db, range, steps, "rows")).toEqual(expected);
        }
      }
    }
  });

  it("keep steps at equal times apart in the funnel rollup: a step at the same time is not after", async () => {
    // Sessions whose steps share a time, within an hour and across hours, in rolled-up hours.
    const base = Date.parse("2026-03-29T05:59:59.999Z");
    const tie = (
      id: string,
      session: string,
      offset: number,
      step: "page" | "a" | "b",
    ): StampedInteraction => ({
      id,
      type: step === "page" ? "page" : "track",
      ...(step === "page"
        ? { context: { page: { path: "/events/t", url: "https://t.test/", title: "t", referrer: "" } } }
        : { name: step }),
      timestamp: new Date(base + offset).toISOString(),
      anonymousId: "tie",
      sessionId: session,
      sourceId: BUILTIN_SOURCE_ID,
      receivedAt: new Date(base + offset).toISOString(),
      ip: null,
      device: "desktop",
      browser: "Chrome",
      os: "Linux",
    });
    const ties = [
      tie("tie-1", "tie-s1", 0, "page"),
      tie("tie-2", "tie-s1", 0, "a"), // the same time as the page: not after it
      tie("tie-3", "tie-s1", 1, "a"), // the next hour, after it
      tie("tie-4", "tie-s1", 1, "b"), // the same time as a: not after it
      tie("tie-5", "tie-s2", 0, "a"),
      tie("tie-6", "tie-s2", 0, "page"),
      tie("tie-7", "tie-s2", 1, "a"),
      tie("tie-8", "tie-s2", 2, "b"),
    ];
    expect(await load(ties)).toEqual({ loaded: ties.length, duplicates: 0, dead: 0 });
    await rollUpInteractions(loader.db, NOW, RETENTION_DAYS);
    expect(await pendingMarks()).toBe(0);
    const range: Range = {
      from: at("2026-03-29T05:00:00Z"),
      to: at("2026-03-29T07:00:00Z"),
      eventId: undefined,
    };
    const steps = ["page:/events/:id", "track:a", "track:b"];
    const onlyTies = ties.map((item) => ({ ...item }));
    expect(funnelOf(onlyTies, range, steps)).toEqual([2, 2, 1]);
    const all = [...firstBatch, ...ties];
    expect(await readFunnel(loader.db, range, steps)).toEqual(funnelOf(all, range, steps));
    expect(await readFunnel(loader.db, range, steps)).toEqual(
      await readFunnel(loader.db, range, steps, "rows"),
    );
    await sql`DELETE FROM interactions WHERE id LIKE 'tie-%'`.execute(loader.db);
    await rollUpHours(loader.db, [at("2026-03-29T05:00:00Z"), at("2026-03-29T06:00:00Z")], NOW);
  });

  it("read the funnel from its rollup: a wrong one changes the answer, an hour of other rollups is read raw", async () => {
    const hour = at("2026-03-29T15:00:00Z");
    const range = RANGES[0]?.[1] as Range;
    const steps = FUNNELS[0] ?? [];
    const expected = funnelOf(firstBatch, range, steps);
    await sql`INSERT INTO interaction_funnel_sessions (session_id, last_hour) VALUES ('nobody', ${hour})`.execute(
      loader.db,
    );
    await sql`INSERT INTO interaction_funnel_rollups (hour, type, key, occurrences)
              SELECT ${hour}, 'page', '/events/zzz', number || ',5' FROM interaction_funnel_sessions
              WHERE session_id = 'nobody'`.execute(loader.db);
    expect(await readFunnel(loader.db, range, steps)).toEqual([(expected[0] ?? 0) + 1, ...expected.slice(1)]);
    // The hour computed again by a computation without the funnel's rollup (a worker before ADR 0024).
    await sql`UPDATE interaction_rollup_hours SET rolled_at = rolled_at + interval '1 second' WHERE hour = ${hour}`.execute(
      loader.db,
    );
    expect(await readFunnel(loader.db, range, steps)).toEqual(expected);
    expect(await rollUpInteractions(loader.db, NOW, RETENTION_DAYS)).toBe(1);
    expect(await readFunnel(loader.db, range, steps)).toEqual(expected);
    const { rows } = await sql<{ count: number }>`
      SELECT count(*)::int AS count FROM interaction_funnel_rollups WHERE key = '/events/zzz'`.execute(
      loader.db,
    );
    expect(rows[0]?.count).toBe(0);
  });

  it("read an event's funnel and the minutes from their rollups, an hour computed without them raw", async () => {
    const hour = at("2026-03-29T16:00:00Z");
    const everyEvent = RANGES[0]?.[1] as Range;
    const ofEvent: Range = { ...everyEvent, eventId: EVENTS[1] };
    const steps = FUNNELS[0] ?? [];
    const perMinute = { metric: "visitors", interval: "minute" } as const;
    const [expected, expectedOfEvent] = [
      funnelOf(firstBatch, everyEvent, steps),
      funnelOf(firstBatch, ofEvent, steps),
    ];
    const expectedPerMinute = await readTimeseries(loader.db, everyEvent, perMinute, "rows");
    // Wrong on purpose: one more session at step 0 of the event, 1000 more visitors in the hour's 7th minute.
    await sql`INSERT INTO interaction_funnel_sessions (session_id, last_hour) VALUES ('nobody-2', ${hour})`.execute(
      loader.db,
    );
    await sql`INSERT INTO interaction_event_funnel_rollups (hour, event_id, type, key, occurrences)
              SELECT ${hour}, ${EVENTS[1]}, 'page', '/events/zzz', number || ',5' FROM interaction_funnel_sessions
              WHERE session_id = 'nobody-2'`.execute(loader.db);
    await sql`INSERT INTO interaction_minute_rollups AS m (minute, interactions, pageviews, visitors, sessions)
              VALUES (${at("2026-03-29T16:07:00Z")}, 0, 0, 1000, 0)
              ON CONFLICT (minute) DO UPDATE SET visitors = m.visitors + 1000`.execute(loader.db);
    const wrongPerMinute = expectedPerMinute.map((point) =>
      point.t === "2026-03-29T16:07:00.000Z" ? { ...point, value: point.value + 1000 } : point,
    );
    expect(await readFunnel(loader.db, ofEvent, steps)).toEqual([
      (expectedOfEvent[0] ?? 0) + 1,
      ...expectedOfEvent.slice(1),
    ]);
    expect(await readFunnel(loader.db, everyEvent, steps)).toEqual(expected);
    expect(await readTimeseries(loader.db, everyEvent, perMinute)).toEqual(wrongPerMinute);
    // The hour as a worker of ADR 0024 before its addendum computed it: with the funnel's rollup only.
    await sql`UPDATE interaction_rollup_hours SET event_funnel_rolled_at = NULL, minutes_rolled_at = NULL
              WHERE hour = ${hour}`.execute(loader.db);
    expect(await readFunnel(loader.db, ofEvent, steps)).toEqual(expectedOfEvent);
    expect(await readTimeseries(loader.db, everyEvent, perMinute)).toEqual(expectedPerMinute);
    expect(await rollUpInteractions(loader.db, NOW, RETENTION_DAYS)).toBe(1);
    expect(await readFunnel(loader.db, ofEvent, steps)).toEqual(expectedOfEvent);
    expect(await readTimeseries(loader.db, everyEvent, perMinute)).toEqual(expectedPerMinute);
    const { rows } = await sql<{ count: number }>`
      SELECT count(*)::int AS count FROM interaction_event_funnel_rollups WHERE key = '/events/zzz'`.execute(
      loader.db,
    );
    expect(rows[0]?.count).toBe(0);
  });

  it("are what the rollup path reads: a wrong rollup changes its answer, a recompute mends it", async () => {
    const hour = at("2026-03-29T15:00:00Z");
    await sql`UPDATE interaction_rollups SET count = count + 1000 WHERE hour = ${hour} AND dimension = 'type' AND value = 'page'`.execute(
      loader.db,
    );
    const range = RANGES[0]?.[1] as Range;
    const query = { metric: "interactions", interval: "day" } as const;
    const [rolled, raw] = [
      await readTimeseries(loader.db, range, query),
      await readTimeseries(loader.db, range, query, "rows"),
    ];
    expect(rolled.map((point) => point.value)).toEqual(
      raw.map((point) => (point.t === "2026-03-29T00:00:00.000Z" ? point.value + 1000 : point.value)),
    );
    await rollUpHours(loader.db, [hour], NOW);
    await expectRollupsToMatchRows();
  });

  it("count a batch the stream delivers again once: nothing is marked, nothing recomputed", async () => {
    const before = await answers("rows");
    const again = await load(firstBatch.slice(0, 1_000));
    expect(again).toEqual({ loaded: 0, duplicates: 1_000, dead: 0 });
    expect(await pendingMarks()).toBe(0);
    expect(await rollUpInteractions(loader.db, NOW, RETENTION_DAYS)).toBe(0);
    expect(await expectRollupsToMatchRows()).toEqual(before);
  });

  it("take late interactions into rolled-up hours from the raw rows until the job recomputes those hours", async () => {
    const before = await answers("rows");
    // Half of it delivered before (a redelivery), half new and late: hours rolled up days ago.
    const late = interactions("late", 600, FIRST + 30 * HOUR_MS, FIRST + 40 * HOUR_MS, 2);
    await load(late.slice(0, 300));
    await rollUpInteractions(loader.db, NOW, RETENTION_DAYS);
    const result = await load(late);
    expect(result.loaded).toBe(300);
    expect(await pendingMarks()).toBeGreaterThan(0);
    const withLate = await expectRollupsToMatchRows();
    expect(withLate).not.toEqual(before);
    for (const [name, range] of RANGES) {
      for (const [index, steps] of FUNNELS.entries()) {
        expect(withLate[`${name} funnel ${index}`]).toEqual(funnelOf([...firstBatch, ...late], range, steps));
      }
    }
    // The marked hours: those of the second load's new rows only.
    const hours = new Set(late.slice(300).map((item) => Math.floor(Date.parse(item.timestamp) / HOUR_MS)));
    expect(await rollUpInteractions(loader.db, NOW, RETENTION_DAYS)).toBe(hours.size);
    expect(await pendingMarks()).toBe(0);
    expect(await expectRollupsToMatchRows()).toEqual(withLate);
  });

  it("go with the day partitions past the retention", async () => {
    await sql`SELECT drop_interaction_partitions_before('2026-03-29')`.execute(loader.db);
    const { rows } = await sql<{ rollups: number; hours: number; members: number }>`
      SELECT (SELECT count(*)::int FROM interaction_rollups WHERE hour < '2026-03-29T00:00Z') AS rollups,
             (SELECT count(*)::int FROM interaction_rollup_members WHERE hour < '2026-03-29T00:00Z') AS members,
             (SELECT count(*)::int FROM interaction_rollup_hours WHERE hour < '2026-03-29T00:00Z') AS hours`.execute(
      loader.db,
    );
    expect(rows[0]).toEqual({ rollups: 0, members: 0, hours: 0 });
    const { rows: kept } = await sql<{ count: number }>`
      SELECT count(*)::int AS count FROM interaction_rollups WHERE hour >= '2026-03-29T00:00Z'`.execute(
      loader.db,
    );
    expect(kept[0]?.count).toBeGreaterThan(0);
    await expectRollupsToMatchRows();
  });
});

// The rollup path matches a page step with LIKE, the raw rows' reference with the regular expression (ADR 0024,
// 2026-12-07 later): in PostgreSQL, on paths built to tell them apart, they must agree on every pair.
it("matches a page step's pattern with LIKE exactly as with its regular expression", async () => {
  const patterns = [
    "/events/:id",
    "/events/:id/photos",
    "/:a/:b",
    "/x:y",
    "/:a:b",
    "/100%_\\",
    "/a.b*",
    "/",
    "",
  ];
  const pieces = [
    "/",
    "/events/",
    "/photos",
    "events",
    "a",
    "x",
    "1",
    "100%_\\",
    "a.b*",
    "ab",
    "%",
    "_",
    "\\",
    ".",
    "ü",
    "\n",
  ];
  const random = generator(7);
  const paths = new Set([
    "",
    "/",
    "//",
    "/events/",
    "/events//photos",
    "/events/1/photos/",
    "/100%_\\",
    "/a.b*",
  ]);
  while (paths.size < 2_000) {
    paths.add(Array.from({ length: 1 + random(7) }, () => pieces[random(pieces.length)]).join(""));
  }
  const likes = patterns.map(pathPatternToLike);
  const { rows } = await sql<{ pattern: string; byRegex: boolean; byLike: boolean }>`
    SELECT p.pattern, path ~ p.regex AS "byRegex", path LIKE p.like AND path NOT LIKE p.too_many AS "byLike"
    FROM unnest(${patterns}::text[], ${patterns.map(pathPatternToRegex)}::text[],
                ${likes.map((like) => like.like)}::text[], ${likes.map((like) => like.tooManySlashes)}::text[])
           AS p(pattern, regex, "like", too_many),
         unnest(${[...paths]}::text[]) AS path`.execute(loader.db);
  expect(rows).toHaveLength(patterns.length * paths.size);
  expect(rows.filter((row) => row.byRegex !== row.byLike)).toEqual([]);
  // Each pattern matches some of the paths, so the agreement is not only on "no".
  for (const pattern of patterns)
    expect(rows.some((row) => row.pattern === pattern && row.byRegex)).toBe(true);
});
