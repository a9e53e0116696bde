import { type Kysely, sql } from "kysely";

// Contract: admit_joins (20261122T1000, reshaped by 20261203T1200) goes, now that joins call admit_joins_v2
// (20261206T0100). Deploy it only once no process of a release before 20261206T0100 runs: at start-up a new
// process applies every pending migration, so in the same rolling deploy as the expand it would take the
// function away from the old processes still serving joins.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION admit_joins(uuid, uuid[], timestamptz)`.execute(db);
}
