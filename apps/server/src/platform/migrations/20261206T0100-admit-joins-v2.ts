import { readFileSync } from "node:fs";
import { type Kysely, sql } from "kysely";

// Expand: admit_joins_v2 beside admit_joins, so that during a rolling deploy the processes still running the
// previous release keep calling the function they know while the new ones call v2. admit_joins is dropped by
// a later migration, in the release after this one. The function's source is sql/admit_joins_v2.sql, read
// here and never edited once released.
export async function up(db: Kysely<unknown>): Promise<void> {
  const source = readFileSync(new URL("sql/admit_joins_v2.sql", import.meta.url), "utf8");
  await sql.raw(source).execute(db);
}
