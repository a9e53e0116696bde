import { sql } from "kysely";
import type { Deps } from "../../deps.ts";
import type { Db } from "../../platform/db.ts";

/*
 * interactions.rollup (ADR 0015 "Rollups", ADR 0024 for the funnel's and the minutes'): computes the hourly
 * rollups from the raw rows, every minute, for the closed hours that have none yet, or not all of them from one
 * computation by this code (new hours, and the backfill after a migration or a restore), and those that rows
 * were inserted into since (late interactions: a statement trigger on `interactions` marks their hours in
 * interaction_rollup_pending, in the inserting transaction). A recompute replaces an hour's rollups whole, so
 * running it twice, or over a batch the stream delivered twice, never counts a row twice.
 */

export const ROLLUP_CRON = "* * * * *";
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Hours recomputed per transaction: a backfill goes in steps that each finish well inside the statement timeout. */
const HOURS_PER_TRANSACTION = 24;
/** Transactions per run at most; a longer backfill continues in the next minute's run. */
const TRANSACTIONS_PER_RUN = 10;

/** The dimensions kept per hour: `type` for the interaction and page-view counts, the rest for top. */
const DIMENSIONS = ["type", "path", "name", "referrer", "country", "device"] as const;

/** An hour's row of interaction_rollup_hours whose every rollup came from one computation by this code. */
const IS_COMPLETE = sql`r.funnel_rolled_at = r.rolled_at AND r.event_funnel_rolled_at = r.rolled_at
  AND r.minutes_rolled_at = r.rolled_at`;

/** The closed hours within the retention that need their rollup computed, newest first. */
async function hoursToRollUp(db: Db, now: Date, retentionDays: number, limit: number): Promise<Date[]> {
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  const first = new Date(today - retentionDays * DAY_MS);
  const open = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS);
  if (first.getTime() >= open.getTime()) return [];
  const { rows } = await sql<{ hour: Date }>`
    SELECT hour FROM (
      SELECT DISTINCT hour FROM interaction_rollup_pending WHERE hour >= ${first} AND hour < ${open}
      UNION
      SELECT h FROM generate_series(${first}::timestamptz, ${open}::timestamptz - interval '1 hour',
                                    interval '1 hour') AS h
      WHERE NOT EXISTS (SELECT 1 FROM interaction_rollup_hours r WHERE r.hour = h AND ${IS_COMPLETE})
    ) AS due(hour)
    ORDER BY hour DESC LIMIT ${limit}`.execute(db);
  return rows.map((row) => row.hour);
}

/**
 * Recomputes the rollups of `hours` from the raw rows in one transaction. The hours' rows in
 * interaction_rollup_hours are locked first (in order, so two runs cannot deadlock), then the pending marks
 * committed so far are deleted: every load that wrote one of them has committed, so the statements after see
 * its rows; a load committing later leaves its mark, and its hour is read raw until the next recompute.
 */
export async function rollUpHours(db: Db, hours: Date[], now: Date): Promise<void> {
  if (hours.length === 0) return;
  const sorted = [...hours].sort((a, b) => a.getTime() - b.getTime()).map((hour) => hour.toISOString());
  await db.transaction().execute(async (trx) => {
    await sql`
      INSERT INTO interaction_rollup_hours (hour, rolled_at, funnel_rolled_at, event_funnel_rolled_at, minutes_rolled_at)
      SELECT hour, ${now}, ${now}, ${now}, ${now} FROM unnest(${sorted}::timestamptz[]) AS hour
      ON CONFLICT (hour) DO UPDATE SET rolled_at = excluded.rolled_at, funnel_rolled_at = excluded.funnel_rolled_at,
        event_funnel_rolled_at = excluded.event_funnel_rolled_at, minutes_rolled_at = excluded.minutes_rolled_at`.execute(
      trx,
    );
    await sql`DELETE FROM interaction_rollup_pending WHERE hour = ANY(${sorted}::timestamptz[])`.execute(trx);
    await sql`DELETE FROM interaction_rollups WHERE hour = ANY(${sorted}::timestamptz[])`.execute(trx);
    await sql`DELETE FROM interaction_rollup_members WHERE hour = ANY(${sorted}::timestamptz[])`.execute(trx);
    await sql`DELETE FROM interaction_funnel_rollups WHERE hour = ANY(${sorted}::timestamptz[])`.execute(trx);
    await sql`DELETE FROM interaction_event_funnel_rollups WHERE hour = ANY(${sorted}::timestamptz[])`.execute(
      trx,
    );
    await sql`
      DELETE FROM interaction_minute_rollups m USING unnest(${sorted}::timestamptz[]) AS hours(hour)
      WHERE m.minute >= hours.hour AND m.minute < hours.hour + interval '1 hour'`.execute(trx);
    const rowsOfHour = sql`
      unnest(${sorted}::timestamptz[]) AS hours(hour)
      CROSS JOIN LATERAL (
        SELECT * FROM interactions i
        WHERE i."timestamp" >= hours.hour AND i."timestamp" < hours.hour + interval '1 hour'
      ) AS i`;
    const values = sql.join(
      DIMENSIONS.map((dimension) => sql`(${dimension}::text, ${sql.ref(`i.${dimension}`)})`),
    );
    await sql`
      INSERT INTO interaction_rollups (hour, dimension, value, count)
      SELECT hours.hour, d.dimension, d.value, count(*)
      FROM ${rowsOfHour} CROSS JOIN LATERAL (VALUES ${values}) AS d(dimension, value)
      WHERE d.value IS NOT NULL
      GROUP BY 1, 2, 3`.execute(trx);
    await sql`
      INSERT INTO interaction_rollup_members (hour, kind, member)
      SELECT DISTINCT hours.hour, m.kind, m.member
      FROM ${rowsOfHour} CROSS JOIN LATERAL (VALUES ('visitor', i.anonymous_id), ('session', i.session_id)) AS m(kind, member)
      WHERE m.member IS NOT NULL`.execute(trx);
    // The staff's minute timeseries (ADR 0024, 2026-12-06): a minute lies in one hour, so its distinct counts
    // are exact as stored.
    await sql`
      INSERT INTO interaction_minute_rollups (minute, interactions, pageviews, visitors, sessions)
      SELECT date_trunc('minute', i."timestamp", 'UTC'), count(*), count(*) FILTER (WHERE i.type = 'page'),
             count(DISTINCT i.anonymous_id), count(DISTINCT i.session_id)
      FROM ${rowsOfHour}
      GROUP BY 1`.execute(trx);
    // The funnel's (ADR 0024): a number per session (in session order, so two runs take row locks in one
    // order), then per page path and track name the distinct (session number, microseconds after the hour).
    const isFunnelRow = sql`i.session_id IS NOT NULL
      AND ((i.type = 'page' AND i.path IS NOT NULL) OR (i.type = 'track' AND i.name IS NOT NULL))`;
    await sql`
      INSERT INTO interaction_funnel_sessions AS s (session_id, last_hour)
      SELECT i.session_id, max(hours.hour) FROM ${rowsOfHour} WHERE ${isFunnelRow}
      GROUP BY i.session_id ORDER BY i.session_id
      ON CONFLICT (session_id) DO UPDATE SET last_hour = excluded.last_hour WHERE s.last_hour < excluded.last_hour`.execute(
      trx,
    );
    // Per page path and track name the hour's distinct (session number, microseconds after the hour): of every
    // event (the staff's funnel) and of each event (an organizer's). Rows of an hour (of an event's hour) are
    // inserted together: a query reads few pages an hour.
    for (const isPerEvent of [false, true]) {
      const [table, event] = isPerEvent
        ? [sql`interaction_event_funnel_rollups`, sql`event_id,`]
        : [sql`interaction_funnel_rollups`, sql``];
      await sql`
        INSERT INTO ${table} (hour, ${event} type, key, occurrences)
        SELECT o.hour, ${event} o.type, o.key, string_agg(s.number || ',' || o.us, ',')
        FROM (
          SELECT DISTINCT hours.hour, ${event} i.type, CASE i.type WHEN 'page' THEN i.path ELSE i.name END AS key,
                 i.session_id, (extract(epoch FROM i."timestamp" - hours.hour) * 1000000)::bigint AS us
          FROM ${rowsOfHour} WHERE ${isFunnelRow} ${isPerEvent ? sql`AND i.event_id IS NOT NULL` : sql``}
        ) AS o
        JOIN interaction_funnel_sessions s ON s.session_id = o.session_id
        GROUP BY ${event} o.hour, o.type, o.key
        ORDER BY ${event} o.hour`.execute(trx);
    }
  });
}

/** One run of the job: the due hours, newest first, a transaction per HOURS_PER_TRANSACTION; answers how many. */
export async function rollUpInteractions(
  db: Db,
  now: Date,
  retentionDays: number,
  transactions = TRANSACTIONS_PER_RUN,
): Promise<number> {
  let total = 0;
  // The funnel and minute rollups of the hours past the retention (the other rollups go with their partition).
  const first = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS - retentionDays * DAY_MS);
  await sql`DELETE FROM interaction_funnel_rollups WHERE hour < ${first}`.execute(db);
  await sql`DELETE FROM interaction_event_funnel_rollups WHERE hour < ${first}`.execute(db);
  await sql`DELETE FROM interaction_minute_rollups WHERE minute < ${first}`.execute(db);
  await sql`DELETE FROM interaction_funnel_sessions WHERE last_hour < ${first}`.execute(db);
  for (let step = 0; step < transactions; step++) {
    const hours = await hoursToRollUp(db, now, retentionDays, HOURS_PER_TRANSACTION);
    await rollUpHours(db, hours, now);
    total += hours.length;
    if (hours.length < HOURS_PER_TRANSACTION) break;
  }
  return total;
}

/** Worker role: runs interactions.rollup in this process and schedules it every minute. */
export async function startInteractionRollups(
  deps: Pick<Deps, "db" | "clock" | "log" | "jobs" | "config">,
): Promise<void> {
  deps.jobs.work("interactions.rollup", async () => {
    const hours = await rollUpInteractions(deps.db, deps.clock.now(), deps.config.analytics.retentionDays);
    if (hours > 0) deps.log.info({ hours }, "interaction rollups computed");
  });
  await deps.jobs.schedule("interactions.rollup", ROLLUP_CRON, {});
}
