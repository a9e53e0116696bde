import { type Kysely, sql } from "kysely";

// Fixed-window counters for limits that must hold across processes (failed logins, registrations).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE rate_limit_counters (
      scope text NOT NULL,
      key text NOT NULL,
      window_started_at timestamptz NOT NULL,
      hits integer NOT NULL,
      PRIMARY KEY (scope, key)
    );
    CREATE INDEX rate_limit_counters_window_idx ON rate_limit_counters (window_started_at);
  `.execute(db);
}
