import type {
  AnalyticsTick,
  FunnelQuery,
  InteractionListQuery,
  StoredInteraction,
  TimeseriesQuery,
  TopQuery,
} from "@turnout/contracts";
import { type Expression, type RawBuilder, type SqlBool, sql } from "kysely";
import type { Executor } from "../../platform/db.ts";
import {
  bucketsFromRollups,
  type FunnelOccurrences,
  funnelOccurrences,
  hoursHolding,
  minuteBucketsFromRollups,
  topFromRollups,
  wholeHoursOf,
  type WholeHours,
} from "./analytics-rollups.ts";

/*
 * The analytics queries (API.md "Interactions (analytics) — queries"). Every one is bounded by a time range,
 * which prunes the day partitions, and an event-scoped one (an organizer's) runs on the (event_id, timestamp)
 * index. Timeseries and top across every event (staff) read the whole hours from the hourly rollups
 * (analytics-rollups.ts), as do the funnels, an event's too (ADR 0024). Row types stay in this file.
 */

export interface Range {
  from: Date;
  to: Date;
  eventId: string | undefined;
}

function inRange(range: Range): Expression<SqlBool> {
  const base = sql<SqlBool>`"timestamp" >= ${range.from} AND "timestamp" < ${range.to}`;
  return range.eventId === undefined ? base : sql<SqlBool>`${base} AND event_id = ${range.eventId}::uuid`;
}

export interface ListPosition {
  timestamp: string;
  sourceId: string;
  id: string;
}

/** Newest first by timestamp, after `position` when given; one row more than `limit` tells a next page. */
export async function listInteractions(
  db: Executor,
  range: Range,
  query: InteractionListQuery,
  position: ListPosition | undefined,
): Promise<StoredInteraction[]> {
  let select = db
    .selectFrom("interactions")
    .select([
      "id",
      "source_id",
      "type",
      "name",
      "timestamp",
      "received_at",
      "anonymous_id",
      "user_id",
      "session_id",
      "event_id",
      "path",
      "referrer",
      "properties",
      "device",
      "browser",
      "os",
      "country",
    ])
    .where(inRange(range));
  if (query.source !== undefined) select = select.where("source_id", "=", query.source);
  if (query.type !== undefined) select = select.where("type", "=", query.type);
  if (query.name !== undefined) select = select.where("name", "=", query.name);
  if (query.path !== undefined) select = select.where("path", "=", query.path);
  if (query.userId !== undefined) select = select.where("user_id", "=", query.userId);
  if (query.sessionId !== undefined) select = select.where("session_id", "=", query.sessionId);
  if (position !== undefined) {
    select = select.where(
      sql<SqlBool>`("timestamp", source_id, id) < (${position.timestamp}::timestamptz, ${position.sourceId}::uuid, ${position.id})`,
    );
  }
  const rows = await select
    .orderBy("timestamp", "desc")
    .orderBy("source_id", "desc")
    .orderBy("id", "desc")
    .limit(query.limit + 1)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    sourceId: row.source_id,
    type: row.type as StoredInteraction["type"],
    name: row.name,
    timestamp: row.timestamp.toISOString(),
    receivedAt: row.received_at.toISOString(),
    anonymousId: row.anonymous_id,
    userId: row.user_id,
    sessionId: row.session_id,
    eventId: row.event_id,
    path: row.path,
    referrer: row.referrer,
    properties: (row.properties ?? null) as Record<string, unknown> | null,
    device: row.device,
    browser: row.browser,
    os: row.os,
    country: row.country,
  }));
}

const METRIC_SQL = {
  interactions: sql`count(*)`,
  pageviews: sql`count(*) FILTER (WHERE type = 'page')`,
  visitors: sql`count(DISTINCT anonymous_id)`,
  sessions: sql`count(DISTINCT session_id)`,
} as const;

/**
 * Where a query across every event reads from: "rollups" (the default) takes the whole hours from the hourly
 * rollups and the rest from the raw rows; "rows" reads only the raw rows (the reference the tests compare with).
 */
export type ReadFrom = "rollups" | "rows";

/** The rollups answer the queries without an event (an event's are an index range scan). */
function rollupHoursFor(range: Range, from: ReadFrom): WholeHours | null {
  if (from === "rows" || range.eventId !== undefined) return null;
  return wholeHoursOf(range);
}

/** One point per interval in the range, zero where nothing happened. */
export async function readTimeseries(
  db: Executor,
  range: Range,
  query: Pick<TimeseriesQuery, "metric" | "interval">,
  from: ReadFrom = "rollups",
): Promise<{ t: string; value: number }[]> {
  const step = sql.raw(`'1 ${query.interval}'::interval`);
  const unit = sql.lit(query.interval);
  const hours = rollupHoursFor(range, from);
  const buckets =
    hours === null
      ? sql`buckets AS (
          SELECT date_trunc(${unit}, "timestamp", 'UTC') AS t, ${METRIC_SQL[query.metric]}::int AS value
          FROM interactions WHERE ${inRange(range)} GROUP BY 1
        )`
      : query.interval === "minute"
        ? minuteBucketsFromRollups(range, hours, query.metric, METRIC_SQL[query.metric])
        : bucketsFromRollups(range, hours, query.metric, query.interval);
  const { rows } = await sql<{ t: Date; value: number }>`
    WITH ${buckets}
    SELECT series.t, coalesce(buckets.value, 0)::int AS value
    FROM generate_series(date_trunc(${unit}, ${range.from}::timestamptz, 'UTC'),
                         ${range.to}::timestamptz - interval '1 microsecond', ${step}) AS series(t)
    LEFT JOIN buckets USING (t)
    ORDER BY series.t`.execute(db);
  return rows.map((row) => ({ t: row.t.toISOString(), value: row.value }));
}

const DIMENSION_SQL = {
  path: sql.ref("path"),
  name: sql.ref("name"),
  referrer: sql.ref("referrer"),
  country: sql.ref("country"),
  device: sql.ref("device"),
} as const;

/** The most frequent values of a dimension in the range (interactions without one are left out). */
export async function readTop(
  db: Executor,
  range: Range,
  query: Pick<TopQuery, "dimension" | "limit">,
  from: ReadFrom = "rollups",
): Promise<{ value: string; count: number }[]> {
  const hours = rollupHoursFor(range, from);
  if (hours !== null) {
    return (await topFromRollups(range, hours, query.dimension, query.limit).execute(db)).rows;
  }
  const column = DIMENSION_SQL[query.dimension];
  const { rows } = await sql<{ value: string; count: number }>`
    SELECT ${column} AS value, count(*)::int AS count FROM interactions
    WHERE ${inRange(range)} AND ${column} IS NOT NULL
    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${query.limit}`.execute(db);
  return rows;
}

const PATH_PARAMETER = /(:[A-Za-z_][A-Za-z0-9_]*)/;

/**
 * A path pattern as an anchored regular expression: `:name` is one segment, everything else literal. The
 * reference: the raw rows' funnel (`from: "rows"`) matches with it.
 */
export function pathPatternToRegex(pattern: string): string {
  const escaped = pattern
    .split(PATH_PARAMETER)
    .map((part, index) => (index % 2 === 1 ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return `^${escaped}$`;
}

/**
 * The same match as two LIKE patterns, several times cheaper in PostgreSQL than the regular expression (ADR
 * 0024, 2026-12-07 later): a path matches the pattern when it is LIKE `like` (each `:name` as `_%`, one
 * character or more; the rest literal) and NOT LIKE `tooManySlashes` (more slashes than the pattern's literal
 * ones). With exactly the literal slashes, no parameter can span a slash: `[^/]+`.
 */
export function pathPatternToLike(pattern: string): { like: string; tooManySlashes: string } {
  const like = pattern
    .split(PATH_PARAMETER)
    .map((part, index) => (index % 2 === 1 ? "_%" : part.replace(/[\\%_]/g, "\\$&")))
    .join("");
  const slashes = pattern.split("/").length - 1; // all literal: a parameter's name holds none
  return { like, tooManySlashes: `%${"/%".repeat(slashes + 1)}` };
}

function stepMatches(step: string): Expression<SqlBool> {
  if (step.startsWith("page:")) {
    return sql<SqlBool>`type = 'page' AND path ~ ${pathPatternToRegex(step.slice("page:".length))}`;
  }
  return sql<SqlBool>`type = 'track' AND name = ${step.slice("track:".length)}`;
}

function pathMatches(path: RawBuilder<string | null>, pattern: string): RawBuilder<SqlBool> {
  const { like, tooManySlashes } = pathPatternToLike(pattern);
  return sql<SqlBool>`${path} LIKE ${like} AND ${path} NOT LIKE ${tooManySlashes}`;
}

/** The bit mask of the steps a page path or track name matches: bit k for step k. */
function stepMask(
  steps: FunnelQuery["steps"],
  type: RawBuilder<string>,
  key: RawBuilder<string | null>,
): RawBuilder<number> {
  const bits = steps.map((step, index) => {
    const matches = step.startsWith("page:")
      ? sql`${type} = 'page' AND ${pathMatches(key, step.slice("page:".length))}`
      : sql`${type} = 'track' AND ${key} = ${step.slice("track:".length)}`;
    return sql`CASE WHEN ${matches} THEN ${sql.lit(2 ** index)} ELSE 0 END`;
  });
  return sql<number>`(${sql.join(bits, sql` + `)})::int`;
}

/**
 * Sessions that did each step after the previous ones (within the range), step by step: per session, step k's
 * time is the first time it happened after step k-1's (strictly), step 0's its first time in the range.
 * The rolled-up hours come from the funnel rollup, every event's or the event's (ADR 0024), and the steps are
 * followed here, session by session; `from: "rows"` (the reference) is one SQL statement on the raw rows.
 */
export async function readFunnel(
  db: Executor,
  range: Range,
  steps: FunnelQuery["steps"],
  from: ReadFrom = "rollups",
): Promise<number[]> {
  if (from === "rollups") {
    const hours = hoursHolding(range);
    const { rows } = await funnelOccurrences(range, hours, (type, key) => stepMask(steps, type, key)).execute(
      db,
    );
    return followSteps(rows, steps.length, range);
  }
  // Each step keeps, per session, the first time it happened after the previous step's time.
  const ctes = steps.map((step, index) =>
    index === 0
      ? sql`s0 AS (SELECT session_id, min("timestamp") AS t FROM interactions
                 WHERE ${inRange(range)} AND session_id IS NOT NULL AND ${stepMatches(step)} GROUP BY session_id)`
      : sql`${sql.raw(`s${index}`)} AS (
               SELECT i.session_id, min(i."timestamp") AS t FROM interactions i
               JOIN ${sql.raw(`s${index - 1}`)} p ON p.session_id = i.session_id AND i."timestamp" > p.t
               WHERE ${inRange(range)} AND ${stepMatches(step)} GROUP BY i.session_id)`,
  );
  const counts = steps.map((_step, index) => sql`(SELECT count(*)::int FROM ${sql.raw(`s${index}`)})`);
  const { rows } = await sql<{ counts: number[] }>`
    WITH ${sql.join(ctes)} SELECT ARRAY[${sql.join(counts)}] AS counts`.execute(db);
  return rows[0]?.counts ?? steps.map(() => 0);
}

/**
 * The funnel's counts from the occurrences of its steps: step 0's time per session is its first occurrence,
 * step k's the first occurrence after step k-1's time (equal times are not after). Step by step, so step k-1's
 * times are complete before step k reads them. Sessions are followed by number: the rollups' numbers, and
 * for the sessions without one (named raw rows) numbers after the largest.
 */
export function followSteps(
  parts: FunnelOccurrences[],
  stepCount: number,
  range: Pick<Range, "from" | "to">,
): number[] {
  // The range in microseconds: the rollups of the ragged ends' hours hold occurrences outside it.
  const [from, to] = [range.from.getTime() * 1000, range.to.getTime() * 1000];
  // Every occurrence as (session index, microseconds since the epoch), per part.
  let low = Infinity;
  let high = -Infinity;
  const numbered = parts.map((part) => {
    const values = JSON.parse(part.numbered) as number[];
    for (let index = 0; index < values.length; index += 2) {
      const number = values[index] as number;
      if (number < low) low = number;
      if (number > high) high = number;
    }
    return values;
  });
  if (low === Infinity) low = high = 0;
  const names = new Map<string, number>();
  const named = parts.map((part) => {
    if (part.named === null) return [];
    const values: number[] = [];
    for (const [session, micros] of JSON.parse(part.named) as [string, number][]) {
      let index = names.get(session);
      if (index === undefined) names.set(session, (index = high - low + 1 + names.size));
      values.push(index, micros);
    }
    return values;
  });
  const size = high - low + 1 + names.size;
  // Step k-1's time per session (NaN: not reached) and step k's, swapped after each step.
  let previous = new Float64Array(size);
  let current = new Float64Array(size);
  const counts: number[] = [];
  for (let step = 0; step < stepCount; step++) {
    current.fill(NaN);
    const bit = 2 ** step;
    for (const [index, part] of parts.entries()) {
      if ((part.mask & bit) === 0) continue;
      const base = part.hour * 1000;
      for (const [values, offset] of [
        [numbered[index] ?? [], low],
        [named[index] ?? [], 0],
      ] as const) {
        for (let at = 0; at < values.length; at += 2) {
          const session = (values[at] as number) - offset;
          const time = base + (values[at + 1] as number);
          if (time < from || time >= to) continue;
          // Step 0 at its first occurrence; step k only after step k-1's time (NaN compares false).
          if (step > 0 && !(time > (previous[session] as number))) continue;
          const earliest = current[session] as number;
          if (!(earliest <= time)) current[session] = time;
        }
      }
    }
    let reached = 0;
    for (const time of current) if (time === time) reached++;
    counts.push(reached);
    [previous, current] = [current, previous];
  }
  return counts;
}

/** Visitors in the last 5 minutes and interactions per minute over them. */
export async function readLive(
  db: Executor,
  now: Date,
  eventId: string | undefined,
): Promise<{ visitorsNow: number; perMinute: { t: string; count: number }[] }> {
  const from = new Date(Math.floor(now.getTime() / 60_000) * 60_000 - 4 * 60_000);
  const range = { from, to: new Date(now.getTime() + 1), eventId };
  const [visitors, series] = await Promise.all([
    sql<{ count: number }>`
      SELECT count(DISTINCT anonymous_id)::int AS count FROM interactions
      WHERE ${inRange({ ...range, from: new Date(now.getTime() - 5 * 60_000) })}`.execute(db),
    readTimeseries(
      db,
      { ...range, to: new Date(from.getTime() + 5 * 60_000) },
      {
        metric: "interactions",
        interval: "minute",
      },
    ),
  ]);
  return {
    visitorsNow: visitors.rows[0]?.count ?? 0,
    perMinute: series.map((point) => ({ t: point.t, count: point.value })),
  };
}

/**
 * The `analytics.tick.v1` of `dashboard:<eventId>` (API.md "Real time"): visitors in the last 5 minutes,
 * page views and joins (`track:joined`) in the last minute. One index range scan on (event_id, timestamp).
 */
export async function computeAnalyticsTick(db: Executor, eventId: string, now: Date): Promise<AnalyticsTick> {
  const { rows } = await sql<{ visitors: number; views: number; joins: number }>`
    SELECT count(DISTINCT anonymous_id)::int AS visitors,
           count(*) FILTER (WHERE type = 'page' AND "timestamp" >= ${new Date(now.getTime() - 60_000)})::int AS views,
           count(*) FILTER (WHERE type = 'track' AND name = 'joined'
                            AND "timestamp" >= ${new Date(now.getTime() - 60_000)})::int AS joins
    FROM interactions
    WHERE event_id = ${eventId}::uuid AND "timestamp" >= ${new Date(now.getTime() - 5 * 60_000)}
      AND "timestamp" <= ${now}`.execute(db);
  const row = rows[0];
  return {
    eventId,
    visitorsNow: row?.visitors ?? 0,
    viewsPerMinute: row?.views ?? 0,
    joinsPerMinute: row?.joins ?? 0,
    at: now.toISOString(),
  };
}
