import { type Kysely, sql } from "kysely";

// Two more hourly rollups, computed by the rollup job with the others (ADR 0024, addendum of 2026-12-06):
// - interaction_event_funnel_rollups: the funnel rollup per event: per UTC hour, event, page path (type 'page')
//   and track name (type 'track'), the distinct (session number, microseconds after the hour) occurrences of the
//   event's interactions that carry a session. An organizer's funnel reads it instead of the raw rows.
// - interaction_minute_rollups: per UTC minute, the interactions, page views, distinct visitors and distinct
//   sessions, for the staff's `interval=minute` timeseries (a minute lies inside one hour, so its distinct
//   counts are exact as stored).
// - interaction_rollup_hours.event_funnel_rolled_at, minutes_rolled_at: the rolled_at of the computation that
//   also wrote the hour's rows of each. A query reads an hour's rows only while they equal rolled_at, so an
//   hour computed before this migration (or by a worker without this code) is read raw until the job computes
//   it again (newest first).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE interaction_event_funnel_rollups (
      hour timestamptz NOT NULL,
      event_id uuid NOT NULL,
      type text NOT NULL CHECK (type IN ('page', 'track')),
      key text NOT NULL,
      occurrences text NOT NULL
    );
    CREATE INDEX interaction_event_funnel_rollups_event_hour ON interaction_event_funnel_rollups (event_id, hour);
    CREATE INDEX interaction_event_funnel_rollups_hour ON interaction_event_funnel_rollups (hour);

    CREATE TABLE interaction_minute_rollups (
      minute timestamptz PRIMARY KEY,
      interactions integer NOT NULL,
      pageviews integer NOT NULL,
      visitors integer NOT NULL,
      sessions integer NOT NULL
    );

    ALTER TABLE interaction_rollup_hours
      ADD COLUMN event_funnel_rolled_at timestamptz,
      ADD COLUMN minutes_rolled_at timestamptz;
  `.execute(db);
}
