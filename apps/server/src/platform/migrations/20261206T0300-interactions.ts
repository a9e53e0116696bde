import { type Kysely, sql } from "kysely";

// Interaction analytics (ADR 0015): write-key sources, the embedded mode's stream (interaction_batches), the
// day-partitioned interactions table with its partition functions, and the dead letters of the processor.
// Partitions live in a schema of their own so the catalogue of `public` lists each table once.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE sources (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      write_key text NOT NULL UNIQUE,
      is_builtin boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz
    );
    -- Turnout's own web app sends without a write key; its interactions are filed here.
    INSERT INTO sources (id, name, write_key, is_builtin)
    VALUES ('00000000-0000-7000-8000-000000000001', 'Turnout web app',
            'wk_' || replace(gen_random_uuid()::text, '-', ''), true);

    CREATE TABLE interaction_batches (
      seq bigserial PRIMARY KEY,
      items jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE SCHEMA interaction_partitions;
    CREATE TABLE interactions (
      source_id uuid NOT NULL,
      id text NOT NULL,
      type text NOT NULL,
      name text,
      "timestamp" timestamptz NOT NULL,
      received_at timestamptz NOT NULL,
      anonymous_id text NOT NULL,
      user_id text,
      session_id text,
      event_id uuid,
      path text,
      referrer text,
      properties jsonb,
      context jsonb,
      ip text,
      device text NOT NULL,
      browser text NOT NULL,
      os text NOT NULL,
      country text,
      PRIMARY KEY (source_id, id, "timestamp")
    ) PARTITION BY RANGE ("timestamp");
    CREATE INDEX interactions_timestamp ON interactions ("timestamp");
    CREATE INDEX interactions_event_timestamp ON interactions (event_id, "timestamp") WHERE event_id IS NOT NULL;

    CREATE TABLE interactions_dead (
      seq bigserial PRIMARY KEY,
      item jsonb NOT NULL,
      error text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    -- One partition per UTC day. Two processors may race to create the same one: the loser carries on.
    CREATE FUNCTION ensure_interaction_partition(day date) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      EXECUTE format(
        'CREATE TABLE IF NOT EXISTS interaction_partitions.%I PARTITION OF interactions FOR VALUES FROM (%L) TO (%L)',
        'interactions_' || to_char(day, 'YYYYMMDD'),
        day::timestamp AT TIME ZONE 'UTC',
        (day + 1)::timestamp AT TIME ZONE 'UTC');
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
      NULL;
    END
    $$;

    -- Drops every day partition wholly before \`cutoff\`; returns how many went.
    CREATE FUNCTION drop_interaction_partitions_before(cutoff date) RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      part record;
      dropped integer := 0;
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
      RETURN dropped;
    END
    $$;
  `.execute(db);
}
