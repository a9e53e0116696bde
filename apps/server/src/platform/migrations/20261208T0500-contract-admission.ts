import { type Kysely, sql } from "kysely";

// The contract of the admission move (ADR 0011, "Rolling deploy and contract"), one release after its expand
// (20261206T0300): the previous release decides joins with admit_joins_v3 on the admissions row and neither
// reads nor writes events' counter columns, so nothing running calls admit_joins or admit_joins_v2 or reads
// those columns any more.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION admit_joins(uuid, uuid[], timestamptz);
    DROP FUNCTION admit_joins_v2(uuid, uuid[], timestamptz);
    ALTER TABLE events
      DROP COLUMN confirmed_count,
      DROP COLUMN waitlisted_count,
      DROP COLUMN checked_in_count;
  `.execute(db);
}
