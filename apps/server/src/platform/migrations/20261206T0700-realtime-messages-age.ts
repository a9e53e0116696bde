import { type Kysely, sql } from "kysely";

// The channel log is also trimmed by age (modules/realtime, ADR 0013): the sweep finds old rows by occurred_at.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX realtime_messages_occurred_at_idx ON realtime_messages (occurred_at)`.execute(db);
}
