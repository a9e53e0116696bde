import { type Kysely, sql } from "kysely";

// Idempotent replays repeat the headers that name what was answered (ETag); the cleanup job deletes sent
// outbox rows and inbox records by age, oldest first, without scanning either table.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE idempotency_keys ADD COLUMN response_headers jsonb;
    CREATE INDEX outbox_sent_at_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL;
    CREATE INDEX inbox_processed_at_idx ON inbox (processed_at);
  `.execute(db);
}
