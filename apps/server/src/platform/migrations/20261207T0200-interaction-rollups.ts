import { type Kysely, sql } from "kysely";

// Hourly rollups of the interactions (ADR 0015, "Rollups"), for the queries across every event:
// - interaction_rollups: per UTC hour, how many interactions had each value of a dimension (type, path,
//   name, referrer, country, device);
// - interaction_rollup_members: per UTC hour, the distinct visitors (anonymous ids) and sessions;
// - interaction_rollup_hours: the hours whose rollup has been computed from the raw rows;
// - interaction_rollup_pending: one mark per statement that inserted rows into an hour, written by a
//   statement trigger on `interactions` in the inserting transaction. An hour with a mark is read from the
//   raw rows until the rollup job recomputes it and deletes the marks it has seen.
// The rollups of a day go with its partition (drop_interaction_partitions_before, replaced below).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE interaction_rollups (
      hour timestamptz NOT NULL,
      dimension text NOT NULL,
      value text NOT NULL,
      count integer NOT NULL
    );
    CREATE INDEX interaction_rollups_hour ON interaction_rollups (hour, dimension);

    CREATE TABLE interaction_rollup_members (
      hour timestamptz NOT NULL,
      kind text NOT NULL CHECK (kind IN ('visitor', 'session')),
      member text NOT NULL
    );
    CREATE INDEX interaction_rollup_members_hour ON interaction_rollup_members (hour, kind);

    CREATE TABLE interaction_rollup_hours (
      hour timestamptz PRIMARY KEY,
      rolled_at timestamptz NOT NULL
    );

    CREATE TABLE interaction_rollup_pending (
      hour timestamptz NOT NULL
    );
    CREATE INDEX interaction_rollup_pending_hour ON interaction_rollup_pending (hour);

    -- Only the rows a statement actually inserted are in new_rows: a redelivered batch whose rows are all
    -- there already (ON CONFLICT DO NOTHING) marks nothing.
    CREATE FUNCTION mark_interaction_rollup_hours() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO interaction_rollup_pending (hour)
      SELECT DISTINCT date_trunc('hour', "timestamp", 'UTC') FROM new_rows;
      RETURN NULL;
    END
    $$;
    CREATE TRIGGER interactions_mark_rollup_hours AFTER INSERT ON interactions
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mark_interaction_rollup_hours();

    -- As before, and the rollups of the dropped days go in the same statement.
    CREATE OR REPLACE FUNCTION drop_interaction_partitions_before(cutoff date) RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      part record;
      dropped integer := 0;
      first_kept timestamptz := cutoff::timestamp AT TIME ZONE 'UTC';
    BEGIN
      FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'interactions'::regclass AND n.nspname = 'interaction_partitions'
          AND c.relname < 'interactions_' || to_char(cutoff, 'YYYYMMDD')
      LOOP
        EXECUTE format('DROP TABLE interaction_partitions.%I', part.relname);
        dropped := dropped + 1;
      END LOOP;
      DELETE FROM interaction_rollups WHERE hour < first_kept;
      DELETE FROM interaction_rollup_members WHERE hour < first_kept;
      DELETE FROM interaction_rollup_hours WHERE hour < first_kept;
      DELETE FROM interaction_rollup_pending WHERE hour < first_kept;
      RETURN dropped;
    END
    $$;
  `.execute(db);
}
