import { existsSync, readFileSync } from "node:fs";
import { interactionListQuerySchema } from "@turnout/contracts";
import { type CompiledQuery, Kysely, PostgresDialect, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";
import { sizablePartitionScans } from "../../../test/plans.ts";
import { createDb, type DbHandle } from "../../platform/db.ts";
import type { Database } from "../../platform/db-schema.ts";
import {
  computeAnalyticsTick,
  listInteractions,
  readFunnel,
  readLive,
  readTimeseries,
  readTop,
  type Range,
  type ReadFrom,
} from "./analytics.repo.ts";
import { rollUpInteractions } from "./rollups.job.ts";

// Issue 14: the analytics queries answer a dashboard on 10 million interactions, each in under 200 ms, from
// indexes (EXPLAIN checked). The rows are generated inside PostgreSQL (one INSERT ... SELECT generate_series
// over 30 day partitions), not through the pipeline: 5 interactions per session, one event in ten sessions
// being the "hot" one (about a million rows), the rest spread over 999 others.

const ROWS = 10_000_000;
const DAYS = 30;
const HOT_EVENT = "00000000-0000-7000-8000-000000000007";
const BUDGET_MS = 200;
/** The hours the rollup job computes before the queries: the last 24 hours' and a day more. */
const ROLLED_UP_HOURS = 48;

let database: TestDatabase;
let bulk: DbHandle;
const NOW = new Date();

// Each day's rows go into a table of their own, which is then attached as that day's partition: PostgreSQL
// builds the partition's indexes once, sorted, instead of row by row (several times faster here).
beforeAll(async () => {
  database = await createTestDatabase();
  // Its own pool without the serving statement timeout: the fill runs longer than a request may.
  bulk = createDb(database.url, 2);
  const started = performance.now();
  const first = new Date(NOW.getTime() - DAYS * 86_400_000);
  const stepMs = (DAYS * 86_400_000) / ROWS;
  await sql`SET maintenance_work_mem = '256MB'`.execute(bulk.db);
  for (
    let dayStart = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate());
    dayStart <= NOW.getTime();
    dayStart += 86_400_000
  ) {
    const table = sql.table(
      `interaction_partitions.interactions_${new Date(dayStart).toISOString().slice(0, 10).replaceAll("-", "")}`,
    );
    const [from, to] = [new Date(dayStart), new Date(dayStart + 86_400_000)];
    await sql`CREATE TABLE ${table} (LIKE interactions INCLUDING DEFAULTS)`.execute(bulk.db);
    await sql`
      INSERT INTO ${table} (source_id, id, type, name, "timestamp", received_at, anonymous_id, session_id,
                            event_id, path, referrer, device, browser, os)
      SELECT '00000000-0000-7000-8000-000000000001', 'v' || g,
             CASE WHEN g % 5 IN (1, 3) THEN 'track' ELSE 'page' END,
             CASE g % 5 WHEN 1 THEN 'join_clicked' WHEN 3 THEN CASE WHEN s % 3 = 0 THEN 'joined' ELSE 'scrolled' END END,
             t, t, 'visitor-' || (s / 3), 'session-' || s, e,
             CASE g % 5 WHEN 0 THEN '/events/' || e WHEN 2 THEN '/events/' || e || '/photos' WHEN 4 THEN '/' END,
             CASE s % 4 WHEN 0 THEN 'https://search.test/' WHEN 1 THEN 'https://social.test/' END,
             CASE WHEN s % 3 = 0 THEN 'mobile' ELSE 'desktop' END, 'Chrome', 'Linux'
      FROM generate_series(${Math.max(0, Math.floor((from.getTime() - first.getTime()) / stepMs) - 1)}::int,
                           ${Math.min(ROWS - 1, Math.ceil((to.getTime() - first.getTime()) / stepMs) + 1)}::int) AS g,
           LATERAL (SELECT g / 5 AS s) AS session,
           LATERAL (SELECT ${first}::timestamptz + g * ${stepMs / 1000}::float8 * interval '1 second' AS t) AS at,
           LATERAL (SELECT CASE WHEN s % 10 = 0 THEN ${HOT_EVENT}::uuid
                           ELSE ('00000000-0000-7000-8000-' || lpad(to_hex(100 + s % 999), 12, '0'))::uuid END AS e) AS event
      WHERE t >= ${from} AND t < ${to} AND g BETWEEN 0 AND ${ROWS - 1}`.execute(bulk.db);
    await sql`ALTER TABLE interactions ATTACH PARTITION ${table} FOR VALUES FROM (${sql.lit(from.toISOString())}) TO (${sql.lit(to.toISOString())})`.execute(
      bulk.db,
    );
  }
  await sql`SELECT ensure_interaction_partition((${NOW}::timestamptz + interval '1 day')::date)`.execute(
    bulk.db,
  );
  const filled = performance.now();
  // Vacuumed as well as analyzed, as a table that has lived a while is: otherwise the first reads set every
  // row's hint bits and autovacuum works through the 30 new partitions while the queries are timed.
  await sql`VACUUM (ANALYZE) interactions`.execute(bulk.db);
  const { rows } = await sql<{ count: number }>`SELECT count(*)::int AS count FROM interactions`.execute(
    bulk.db,
  );
  expect(rows[0]?.count).toBe(ROWS);
  // The rollup job, as its every-minute run finds the last two days: the newest 48 closed hours (ADR 0015).
  const counted = performance.now();
  expect(await rollUpInteractions(bulk.db, NOW, DAYS + 1, ROLLED_UP_HOURS / 24)).toBe(ROLLED_UP_HOURS);
  await sql`VACUUM (ANALYZE) interaction_rollups, interaction_rollup_members, interaction_rollup_hours,
    interaction_funnel_rollups, interaction_funnel_sessions`.execute(bulk.db);
  process.stderr.write(
    `analytics volume: ${ROWS} rows in ${Math.round((filled - started) / 1000)} s, analyzed and counted in ${Math.round((counted - filled) / 1000)} s, ${ROLLED_UP_HOURS} hours rolled up in ${Math.round((performance.now() - counted) / 1000)} s\n`,
  );
}, 900_000);

afterAll(async () => {
  await bulk.close();
  await database.drop();
});

// Timed runs per query after the warm one; the best counts. The machine's own speed moves from run to run: with
// nothing else running, five runs of the staff funnel in a row took 99 to 161 ms (2026-12-07), and CI's best
// of three once took 180 ms while the same query's CPU was 106 ms. Five runs cost a second or two.
const TIMED_RUNS = 5;

/** Runs `query` on a Kysely that records its statements; answers their plans and its best time. */
async function measure(query: (db: Kysely<Database>) => Promise<unknown>) {
  const statements: CompiledQuery[] = [];
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: bulk.pool }),
    log: (event) => {
      if (event.level === "query") statements.push(event.query);
    },
  });
  await query(db); // warm: the first run reads the pages into the cache, as a dashboard's refresh finds them
  let ms = Infinity;
  for (let run = 0; run < TIMED_RUNS; run++) {
    statements.length = 0;
    const started = performance.now();
    await query(db);
    ms = Math.min(ms, performance.now() - started);
  }
  const plans: string[] = [];
  for (const statement of statements) {
    const { rows } = await bulk.pool.query<{ "QUERY PLAN": string }>(`EXPLAIN ${statement.sql}`, [
      ...statement.parameters,
    ]);
    plans.push(rows.map((row) => row["QUERY PLAN"]).join("\n"));
  }
  return { ms, plan: plans.join("\n---\n") };
}

const day = (offset: number) => new Date(NOW.getTime() + offset * 86_400_000);

function queriesOn(eventId: string | undefined): [string, (db: Kysely<Database>) => Promise<unknown>][] {
  const lastDay: Range = { from: day(-1), to: NOW, eventId };
  return [
    [
      "list",
      (db) => listInteractions(db, lastDay, interactionListQuerySchema.parse({ limit: "50" }), undefined),
    ],
    ["timeseries", (db) => readTimeseries(db, lastDay, { metric: "pageviews", interval: "hour" })],
    ["timeseries of visitors", (db) => readTimeseries(db, lastDay, { metric: "visitors", interval: "hour" })],
    ["top", (db) => readTop(db, lastDay, { dimension: "path", limit: 10 })],
    ["funnel", (db) => readFunnel(db, lastDay, ["page:/events/:id", "track:join_clicked", "track:joined"])],
    ["live", (db) => readLive(db, NOW, eventId)],
  ];
}

// Only the partitions of the range (the last 24 hours: two days) are read.
const partitionsIn = (plan: string) => new Set(plan.match(/interactions_\d{8}/g) ?? []).size;

// The organizer's funnel reads the event's funnel rollup (ADR 0024, 2026-12-06): on the raw rows, one join per
// step, its plan flipped between runs (60 ms to 326 ms on the same data).
describe("on 10 million interactions, an organizer's dashboard (the hot event, about a million rows)", () => {
  it.each(queriesOn(HOT_EVENT))("answers %s in under 200 ms from an index", async (name, query) => {
    const { ms, plan } = await measure(query);
    process.stderr.write(`analytics volume: organizer ${name}: ${Math.round(ms)} ms\n`);
    expect(partitionsIn(plan), plan).toBeLessThanOrEqual(2);
    if (name === "funnel") expect(plan, plan).toMatch(/interaction_event_funnel_rollups/);
    // Through the (event_id, timestamp) or (timestamp) index, never a whole scan of a partition with rows in it.
    expect(sizablePartitionScans(plan), plan).toEqual([]);
    expect(ms, plan).toBeLessThan(BUDGET_MS);
  });
});

// Staff see every event's interactions: the last day is about 330,000 rows, which no index narrows. Timeseries
// and top read the whole hours from the rollups (ADR 0015), the funnel from its rollup and the timeseries per
// minute from the minute rollup (ADR 0024), and only the ragged ends and the open hour from the raw rows; the
// list walks the newest rows of the (timestamp) index, live reads five minutes of it.
const READS_ROLLUPS: Record<string, RegExp> = {
  timeseries: /interaction_rollups/,
  "timeseries per minute": /interaction_minute_rollups/,
  "timeseries of visitors": /interaction_rollup_members/,
  top: /interaction_rollups/,
  funnel: /interaction_funnel_rollups/,
};
const lastDayPerMinute = (db: Kysely<Database>) =>
  readTimeseries(
    db,
    { from: day(-1), to: NOW, eventId: undefined },
    { metric: "pageviews", interval: "minute" },
  );
describe("on 10 million interactions, the staff's dashboard (every event)", () => {
  it.each([...queriesOn(undefined), ["timeseries per minute", lastDayPerMinute] as const])(
    "answers %s in under 200 ms",
    async (name, query) => {
      const { ms, plan } = await measure(query);
      process.stderr.write(`analytics volume: staff ${name}: ${Math.round(ms)} ms\n`);
      expect(partitionsIn(plan), plan).toBeLessThanOrEqual(2);
      const rollups = READS_ROLLUPS[name];
      if (rollups !== undefined) {
        expect(plan, plan).toMatch(rollups);
        // The raw rows of the ends are read span by span through the index, never a whole partition.
        expect(sizablePartitionScans(plan), plan).toEqual([]);
      }
      expect(ms, plan).toBeLessThan(BUDGET_MS);
    },
  );
});

it.each([
  ["every event", undefined],
  ["the hot event", HOT_EVENT],
])("counts the funnel of %s from its rollup as from the raw rows alone", async (_scope, eventId) => {
  const lastDay: Range = { from: day(-1), to: NOW, eventId };
  const steps = ["page:/events/:id", "track:join_clicked", "track:joined"];
  const counts = await readFunnel(bulk.db, lastDay, steps);
  expect(counts[2]).toBeGreaterThan(0);
  expect(counts).toEqual(await readFunnel(bulk.db, lastDay, steps, "rows"));
});

it("counts the staff's page views per minute from the minute rollup as from the raw rows alone", async () => {
  const lastDay: Range = { from: day(-1), to: NOW, eventId: undefined };
  const query = { metric: "pageviews", interval: "minute" } as const;
  const points = await readTimeseries(bulk.db, lastDay, query);
  expect(points.length).toBeGreaterThanOrEqual(24 * 60);
  expect(points).toEqual(await readTimeseries(bulk.db, lastDay, query, "rows"));
});

// Five minutes of one event: the planner may take the (timestamp) index and filter, as cheap as the event's.
it("computes the dashboard tick of the hot event in under 200 ms from an index", async () => {
  const { ms, plan } = await measure((db) => computeAnalyticsTick(db, HOT_EVENT, NOW));
  expect(plan).toMatch(/(Bitmap Index Scan on|Index (Only )?Scan using) interactions_\d{8}_\w+_idx/);
  expect(ms, plan).toBeLessThan(BUDGET_MS);
});

// CPU per query, which the load of a shared machine changes less than wall time (ADR 0024, 2026-12-06): the
// PostgreSQL backend's user+system time (/proc/<pid>/stat: PostgreSQL on this host, as the tests start it) and
// this process's (process.cpuUsage), over runs after a warm one, on one connection without parallel workers (a
// worker's CPU would not show in the backend's). The raw rows' reading of the same answer is printed beside.
describe("on 10 million interactions, CPU per query", () => {
  const lastDay = (eventId?: string): Range => ({ from: day(-1), to: NOW, eventId });
  const steps = ["page:/events/:id", "track:join_clicked", "track:joined"];
  const perMinute = { metric: "visitors", interval: "minute" } as const;
  it.each([
    [
      "organizer funnel",
      (db: Kysely<Database>, from: ReadFrom) => readFunnel(db, lastDay(HOT_EVENT), steps, from),
    ],
    ["staff funnel", (db: Kysely<Database>, from: ReadFrom) => readFunnel(db, lastDay(), steps, from)],
    [
      "staff visitors per minute",
      (db: Kysely<Database>, from: ReadFrom) => readTimeseries(db, lastDay(), perMinute, from),
    ],
  ] as const)("answers the %s in under 200 ms of CPU", async (name, query) => {
    const connection = createDb(database.url, 1);
    try {
      await sql`SET max_parallel_workers_per_gather = 0`.execute(connection.db);
      const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(connection.db);
      const stat = `/proc/${rows[0]?.pid}/stat`;
      expect(existsSync(stat), "PostgreSQL runs on this host").toBe(true);
      /** The backend's user+system CPU in ms: fields 14 and 15 of its stat, in 1/100 s. */
      const backendMs = () => {
        const fields = readFileSync(stat, "utf8").split(") ")[1]?.split(" ") ?? [];
        return (Number(fields[11]) + Number(fields[12])) * 10;
      };
      // The best of three groups of three runs, as the wall-time tests take the best of their runs: a busy
      // machine slows a CPU too. Groups rather than runs, since the backend's clock ticks every 10 ms.
      const cpuOf = async (from: ReadFrom) => {
        const [groups, runs] = [3, 3];
        await query(connection.db, from);
        let best = { postgres: Infinity, server: Infinity };
        for (let group = 0; group < groups; group++) {
          const [backend, own] = [backendMs(), process.cpuUsage()];
          for (let run = 0; run < runs; run++) await query(connection.db, from);
          const server = process.cpuUsage(own);
          const cpu = {
            postgres: (backendMs() - backend) / runs,
            server: (server.user + server.system) / 1000 / runs,
          };
          if (cpu.postgres + cpu.server < best.postgres + best.server) best = cpu;
        }
        return best;
      };
      const [rolled, raw] = [await cpuOf("rollups"), await cpuOf("rows")];
      process.stderr.write(
        `analytics volume: CPU of the ${name}: ${Math.round(rolled.postgres)} ms in PostgreSQL + ${Math.round(rolled.server)} ms here; ` +
          `from the raw rows: ${Math.round(raw.postgres)} + ${Math.round(raw.server)} ms\n`,
      );
      expect(rolled.postgres + rolled.server).toBeLessThan(BUDGET_MS);
    } finally {
      await connection.close();
    }
  });
});
