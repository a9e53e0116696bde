import { readFileSync } from "node:fs";
import { type Kysely, sql } from "kysely";

// Admission moves from the events row to a table of its own, owned by the participation module (ADR 0011):
// one row per event with what a join is decided on and the counters. The join batch locks this narrow row
// instead of the wide events row (description, tags, search vector), and only participation writes it; the
// events module opens, updates and closes it through participation's door.
//
// Expand: the counters are copied here, and events' counter columns stay, unwritten, until the contract
// migration of the next release drops them (ADR 0011). Their capacity check goes with them now: capacity
// edits are checked against the counters here, and the stale copies must not refuse an edit. admit_joins_v3
// (sql/admit_joins_v3.sql) decides joins on this row; admit_joins_v2 stays defined for the processes of the
// previous release until that same contract migration.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE admissions (
      event_id uuid PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
      organizer_id uuid NOT NULL,
      state text NOT NULL CHECK (state IN ('draft', 'open', 'closed')),
      ends_at timestamptz NOT NULL,
      capacity integer CHECK (capacity BETWEEN 1 AND 1000000),
      waitlist_limit integer CHECK (waitlist_limit >= 0),
      confirmed integer NOT NULL DEFAULT 0 CHECK (confirmed >= 0),
      waitlisted integer NOT NULL DEFAULT 0 CHECK (waitlisted >= 0),
      checked_in integer NOT NULL DEFAULT 0 CHECK (checked_in >= 0),
      -- The last line of defence of "never more confirmed than capacity", whatever code runs.
      CONSTRAINT admissions_confirmed_within_capacity CHECK (capacity IS NULL OR confirmed <= capacity)
    );

    INSERT INTO admissions (event_id, organizer_id, state, ends_at, capacity, waitlist_limit, confirmed,
      waitlisted, checked_in)
    SELECT id, organizer_id,
      CASE status WHEN 'draft' THEN 'draft' WHEN 'published' THEN 'open' ELSE 'closed' END,
      ends_at, capacity, waitlist_limit, confirmed_count, waitlisted_count, checked_in_count
    FROM events;

    ALTER TABLE events DROP CONSTRAINT events_confirmed_within_capacity;
  `.execute(db);
  const source = readFileSync(new URL("sql/admit_joins_v3.sql", import.meta.url), "utf8");
  await sql.raw(source).execute(db);
}
