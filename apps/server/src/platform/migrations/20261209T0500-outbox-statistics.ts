import { type Kysely, sql } from "kysely";

// ANALYZE of the outbox computes statistics only for the columns its queries filter and sort on (ADR 0005,
// 2026-12-06 "after the storm"). The relay reads `WHERE sent_at IS NULL ORDER BY id`, the cleanup deletes
// by `sent_at`; nothing filters on the other columns, and the jsonb payload's statistics made ANALYZE of a
// storm's 100,000 messages cost 170 to 190 ms of CPU (30 to 50 ms without), work autovacuum does on the
// api's cores within a minute of every flash crowd.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE outbox
      ALTER COLUMN aggregate_type SET STATISTICS 0,
      ALTER COLUMN aggregate_id SET STATISTICS 0,
      ALTER COLUMN type SET STATISTICS 0,
      ALTER COLUMN subject SET STATISTICS 0,
      ALTER COLUMN payload SET STATISTICS 0,
      ALTER COLUMN created_at SET STATISTICS 0;
  `.execute(db);
}
