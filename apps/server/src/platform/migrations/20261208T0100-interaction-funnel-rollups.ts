import { type Kysely, sql } from "kysely";

// The funnel's hourly rollup (ADR 0024):
// - interaction_funnel_sessions: a number for every session id the rollups hold, so the rollups and the server
//   follow sessions as integers; last_hour is the newest hour rolled up with it (for the retention);
// - interaction_funnel_rollups: per UTC hour, per page path (type 'page') and track name (type 'track'), the
//   distinct (session, time) occurrences of the hour's interactions that carry a session, as the text
//   `number,microseconds after the hour,number,microseconds,...`;
// - interaction_rollup_hours.funnel_rolled_at: the rolled_at of the computation that also wrote the hour's
//   funnel rollup. The funnel reads an hour's rollup only while it equals rolled_at; the hours computed before
//   this migration have none, so the rollup job computes them again (newest first), read raw until then.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE interaction_funnel_sessions (
      session_id text PRIMARY KEY,
      number bigint GENERATED ALWAYS AS IDENTITY,
      last_hour timestamptz NOT NULL
    );
    CREATE INDEX interaction_funnel_sessions_last_hour ON interaction_funnel_sessions (last_hour);

    CREATE TABLE interaction_funnel_rollups (
      hour timestamptz NOT NULL,
      type text NOT NULL CHECK (type IN ('page', 'track')),
      key text NOT NULL,
      occurrences text NOT NULL
    );
    CREATE INDEX interaction_funnel_rollups_hour ON interaction_funnel_rollups (hour);

    ALTER TABLE interaction_rollup_hours ADD COLUMN funnel_rolled_at timestamptz;
  `.execute(db);
}
