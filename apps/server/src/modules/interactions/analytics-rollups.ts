import { type RawBuilder, sql } from "kysely";
import type { Range } from "./analytics.repo.ts";

/*
 * The rollup side of the queries (ADR 0015 "Rollups", ADR 0024): staff's timeseries, top and funnel, and an
 * organizer's funnel. A range splits into its whole UTC hours and its ragged ends. A whole hour is read from the
 * rollups when it has been rolled up and no rows were inserted into it since (no pending mark); everything else
 * (the ends, the open hour, an hour not rolled up yet or marked since) is read from the raw rows, span by span
 * through an index. All of it in one statement, so one snapshot: the marks and the rows they stand for commit
 * together, and a recompute deletes the marks with the rollup it replaces, so the answer equals the raw rows'.
 */

const HOUR_MS = 3_600_000;

export interface WholeHours {
  /** The first whole hour of the range. */
  first: Date;
  /** The end of the last whole hour (exclusive). */
  end: Date;
}

/** The whole UTC hours inside the range, or null when it holds none. */
export function wholeHoursOf(range: Range): WholeHours | null {
  const first = Math.ceil(range.from.getTime() / HOUR_MS) * HOUR_MS;
  const end = Math.floor(range.to.getTime() / HOUR_MS) * HOUR_MS;
  return first < end ? { first: new Date(first), end: new Date(end) } : null;
}

/** The UTC hours that hold the range, its ragged ends' hours included (the funnel's: its rollup keeps times). */
export function hoursHolding(range: Range): WholeHours {
  return {
    first: new Date(Math.floor(range.from.getTime() / HOUR_MS) * HOUR_MS),
    end: new Date(Math.ceil(range.to.getTime() / HOUR_MS) * HOUR_MS),
  };
}

/**
 * Which rollup a query reads, and so which computation an hour's rows must come from: the column of
 * interaction_rollup_hours that equals its rolled_at when the hour's rows of that rollup were written with the
 * rest (ADR 0024); "counts" are interaction_rollups and interaction_rollup_members, always written together.
 */
type Rollup = "counts" | "funnel" | "event funnel" | "minutes";
const IS_COMPUTED: Record<Rollup, RawBuilder<unknown>> = {
  counts: sql`true`,
  funnel: sql`r.funnel_rolled_at = r.rolled_at`,
  "event funnel": sql`r.event_funnel_rolled_at = r.rolled_at`,
  minutes: sql`r.minutes_rolled_at = r.rolled_at`,
};

/**
 * The common table expressions `rolled (h)`, the whole hours answered by the rollups, and `raw_rows`, the
 * raw interactions of the rest of the range (of its event, when it has one).
 */
function splitRange(range: Range, hours: WholeHours, rollup: Rollup): RawBuilder<unknown> {
  // A funnel's raw rows are read span by span whatever the estimates (OFFSET 0 keeps the lateral subquery a
  // subquery): the planner, misled by the spans' estimate, would otherwise read the whole range and join the
  // spans to it.
  const isFunnel = rollup === "funnel" || rollup === "event funnel";
  return sql`
    whole AS (
      SELECT h FROM generate_series(${hours.first}::timestamptz, ${hours.end}::timestamptz - interval '1 hour',
                                    interval '1 hour') AS h
    ),
    rolled AS (
      SELECT h FROM whole
      WHERE EXISTS (SELECT 1 FROM interaction_rollup_hours r WHERE r.hour = whole.h AND ${IS_COMPUTED[rollup]})
        AND NOT EXISTS (SELECT 1 FROM interaction_rollup_pending p WHERE p.hour = whole.h)
    ),
    spans AS (
      SELECT ${range.from}::timestamptz AS a, ${hours.first}::timestamptz AS b
      UNION ALL SELECT ${hours.end}::timestamptz, ${range.to}::timestamptz
      UNION ALL SELECT h, h + interval '1 hour' FROM whole WHERE h NOT IN (SELECT h FROM rolled)
    ),
    raw_rows AS (
      SELECT i.* FROM spans CROSS JOIN LATERAL (
        SELECT "timestamp", type, anonymous_id, session_id, path, name, referrer, country, device
        FROM interactions
        WHERE "timestamp" >= spans.a AND "timestamp" < spans.b
          AND "timestamp" >= ${range.from} AND "timestamp" < ${range.to}
          ${range.eventId === undefined ? sql`` : sql`AND event_id = ${range.eventId}::uuid`}
        ${isFunnel ? sql`OFFSET 0` : sql``}
      ) AS i
    )`;
}

/** The rollups of the `rolled` hours, of one dimension. */
function rolledUp(hours: WholeHours, dimension: string): RawBuilder<unknown> {
  return sql`
    SELECT r.hour, r.value, r.count FROM interaction_rollups r
    WHERE r.dimension = ${dimension} AND r.hour >= ${hours.first} AND r.hour < ${hours.end}
      AND r.hour IN (SELECT h FROM rolled)`;
}

export type TimeseriesMetric = "interactions" | "pageviews" | "visitors" | "sessions";

/** `... buckets (t, value)`: the metric per hour or day of the range, as readTimeseries joins to its series. */
export function bucketsFromRollups(
  range: Range,
  hours: WholeHours,
  metric: TimeseriesMetric,
  interval: "hour" | "day",
): RawBuilder<unknown> {
  const unit = sql.lit(interval);
  if (metric === "visitors" || metric === "sessions") {
    const kind = metric === "visitors" ? "visitor" : "session";
    const rawMember = metric === "visitors" ? sql.ref("anonymous_id") : sql.ref("session_id");
    return sql`${splitRange(range, hours, "counts")},
      buckets AS (
        SELECT t, count(member)::int AS value FROM (
          SELECT date_trunc(${unit}, m.hour, 'UTC'), m.member FROM interaction_rollup_members m
          WHERE m.kind = ${kind} AND m.hour >= ${hours.first} AND m.hour < ${hours.end}
            AND m.hour IN (SELECT h FROM rolled)
          UNION
          SELECT date_trunc(${unit}, "timestamp", 'UTC'), ${rawMember} FROM raw_rows
        ) AS parts(t, member) GROUP BY t
      )`;
  }
  const pagesOnly = metric === "pageviews";
  return sql`${splitRange(range, hours, "counts")},
    buckets AS (
      SELECT t, sum(value)::int AS value FROM (
        SELECT date_trunc(${unit}, rolled_up.hour, 'UTC'), rolled_up.count
        FROM (${rolledUp(hours, "type")}) AS rolled_up
        WHERE ${pagesOnly ? sql`rolled_up.value = 'page'` : sql`true`}
        UNION ALL
        SELECT date_trunc(${unit}, "timestamp", 'UTC'), count(*) FROM raw_rows
        WHERE ${pagesOnly ? sql`type = 'page'` : sql`true`} GROUP BY 1
      ) AS parts(t, value) GROUP BY t
    )`;
}

/**
 * `... buckets (t, value)` of the `minute` interval: the minutes of the rolled-up hours from the minute rollup
 * (its distinct counts are exact: a minute lies inside one hour), the others from the raw rows with `rawValue`,
 * the metric's aggregate. No minute is in both: the raw spans are whole hours and the range's ends.
 */
export function minuteBucketsFromRollups(
  range: Range,
  hours: WholeHours,
  metric: TimeseriesMetric,
  rawValue: RawBuilder<unknown>,
): RawBuilder<unknown> {
  return sql`${splitRange(range, hours, "minutes")},
    buckets AS (
      SELECT m.minute AS t, ${sql.ref(`m.${metric}`)} AS value FROM interaction_minute_rollups m
      JOIN rolled ON m.minute >= rolled.h AND m.minute < rolled.h + interval '1 hour'
      WHERE m.minute >= ${hours.first} AND m.minute < ${hours.end}
      UNION ALL
      SELECT date_trunc('minute', "timestamp", 'UTC'), ${rawValue}::int FROM raw_rows GROUP BY 1
    )`;
}

/** The most frequent values of a dimension: rolled-up hours plus the raw rest, in the raw query's order. */
export function topFromRollups(
  range: Range,
  hours: WholeHours,
  dimension: "path" | "name" | "referrer" | "country" | "device",
  limit: number,
): RawBuilder<{ value: string; count: number }> {
  const column = sql.ref(dimension);
  return sql<{ value: string; count: number }>`
    WITH ${splitRange(range, hours, "counts")}
    SELECT value, sum(count)::int AS count FROM (
      SELECT rolled_up.value, rolled_up.count FROM (${rolledUp(hours, dimension)}) AS rolled_up
      UNION ALL
      SELECT ${column}, count(*) FROM raw_rows WHERE ${column} IS NOT NULL GROUP BY 1
    ) AS parts(value, count)
    GROUP BY value ORDER BY 2 DESC, 1 LIMIT ${limit}`;
}

/**
 * The funnel's occurrences (ADR 0024), of every event or of the range's event, as rows `(hour, mask, numbered,
 * named)`: `mask` has bit k set when the page path or track name matches step k (`matches(type, key)` answers
 * that bit mask in SQL), `hour` is in milliseconds since the epoch, `numbered` a JSON array `[session number,
 * microseconds after the hour, ...]` and `named` one of `[session_id, microseconds after the hour]` pairs, for
 * the raw rows of sessions without a number yet (or null). A session has a number in every row or in none. The
 * rolled-up hours come from interaction_funnel_rollups, or interaction_event_funnel_rollups for an event (with
 * `hoursHolding`, also those of the ragged ends: every occurrence of such an hour, which the caller keeps only
 * inside the range), the rest of the range from the raw rows; only keys that match some step are answered, one
 * row per hour and mask (a few dozen rows a day).
 */
export function funnelOccurrences(
  range: Range,
  hours: WholeHours,
  matches: (type: RawBuilder<string>, key: RawBuilder<string | null>) => RawBuilder<number>,
): RawBuilder<FunnelOccurrences> {
  const rawKey = sql<string | null>`CASE r.type WHEN 'page' THEN r.path WHEN 'track' THEN r.name END`;
  const [table, scope] =
    range.eventId === undefined
      ? [sql`interaction_funnel_rollups`, sql`true`]
      : [sql`interaction_event_funnel_rollups`, sql`f.event_id = ${range.eventId}::uuid`];
  const rolledHours = sql`${scope} AND f.hour >= ${hours.first} AND f.hour < ${hours.end}
    AND f.hour IN (SELECT h FROM rolled)`;
  // One pass over the rolled-up hours' rows, each key matched as it is read: page steps match with LIKE, cheap
  // enough per row that matching each distinct key once first (a DISTINCT, then a second read) costs more
  // (ADR 0024, 2026-12-07 later).
  return sql<FunnelOccurrences>`
    WITH ${splitRange(range, hours, range.eventId === undefined ? "funnel" : "event funnel")},
    rolled_up AS (
      SELECT f.hour, m.mask, f.occurrences
      FROM ${table} f CROSS JOIN LATERAL (SELECT ${matches(sql`f.type`, sql`f.key`)} AS mask) AS m
      WHERE ${rolledHours} AND m.mask <> 0
    ),
    raw_matched AS (
      SELECT hour, mask, s.number, r.session_id,
             (extract(epoch FROM r."timestamp" - hour) * 1000000)::bigint AS us
      FROM raw_rows r
      CROSS JOIN LATERAL (SELECT date_trunc('hour', r."timestamp", 'UTC') AS hour,
                                 ${matches(sql`r.type`, rawKey)} AS mask) AS m
      -- A probe of the primary key per matching row (a few thousand an hour), not a hash of every session.
      LEFT JOIN LATERAL (
        SELECT s.number FROM interaction_funnel_sessions s WHERE s.session_id = r.session_id OFFSET 0
      ) AS s ON true
      WHERE r.session_id IS NOT NULL AND mask <> 0
    )
    SELECT (extract(epoch FROM hour) * 1000)::float8 AS hour, mask, numbered, named FROM (
      SELECT hour, mask, '[' || string_agg(occurrences, ',') || ']' AS numbered, NULL AS named
      FROM rolled_up GROUP BY hour, mask
      UNION ALL
      SELECT hour, mask,
             '[' || coalesce(string_agg(number || ',' || us, ',') FILTER (WHERE number IS NOT NULL), '') || ']',
             (json_agg(json_build_array(session_id, us)) FILTER (WHERE number IS NULL))::text
      FROM raw_matched GROUP BY hour, mask
    ) AS parts`;
}

export interface FunnelOccurrences {
  /** The UTC hour, in milliseconds since the epoch. */
  hour: number;
  mask: number;
  /** JSON: `[session number, microseconds after the hour, ...]`. */
  numbered: string;
  /** JSON: `[[session_id, microseconds after the hour], ...]`, or null. */
  named: string | null;
}
