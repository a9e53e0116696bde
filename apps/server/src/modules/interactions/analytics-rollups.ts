import { type RawBuilder, sql } from "kysely";
import type { Range } from "./analytics.repo.ts";

/*
 * The rollup side of the queries across every event (ADR 0015 "Rollups"). A range splits into its whole UTC
 * hours and its ragged ends. A whole hour is read from the rollups when it has been rolled up and no rows
 * were inserted into it since (no pending mark); everything else (the ends, the open hour, an hour not rolled
 * up yet or marked since) is read from the raw rows, span by span through the (timestamp) index. All of it in
 * one statement, so one snapshot: the marks and the rows they stand for commit together, and a recompute
 * deletes the marks with the rollup it replaces, so the answer equals the raw rows' answer.
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

/**
 * The common table expressions `rolled (h)`, the whole hours answered by the rollups, and `raw_rows`, the
 * raw interactions of the rest of the range.
 */
function splitRange(range: Range, hours: WholeHours): RawBuilder<unknown> {
  return sql`
    whole AS (
      SELECT h FROM generate_series(${hours.first}::timestamptz, ${hours.end}::timestamptz - interval '1 hour',
                                    interval '1 hour') AS h
    ),
    rolled AS (
      SELECT h FROM whole
      WHERE EXISTS (SELECT 1 FROM interaction_rollup_hours r WHERE r.hour = whole.h)
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
    return sql`${splitRange(range, hours)},
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
  return sql`${splitRange(range, hours)},
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

/** The most frequent values of a dimension: rolled-up hours plus the raw rest, in the raw query's order. */
export function topFromRollups(
  range: Range,
  hours: WholeHours,
  dimension: "path" | "name" | "referrer" | "country" | "device",
  limit: number,
): RawBuilder<{ value: string; count: number }> {
  const column = sql.ref(dimension);
  return sql<{ value: string; count: number }>`
    WITH ${splitRange(range, hours)}
    SELECT value, sum(count)::int AS count FROM (
      SELECT rolled_up.value, rolled_up.count FROM (${rolledUp(hours, dimension)}) AS rolled_up
      UNION ALL
      SELECT ${column}, count(*) FROM raw_rows WHERE ${column} IS NOT NULL GROUP BY 1
    ) AS parts(value, count)
    GROUP BY value ORDER BY 2 DESC, 1 LIMIT ${limit}`;
}
