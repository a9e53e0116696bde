import { type Kysely, sql } from "kysely";

// One secret calendar-feed token per user (GET /api/me/calendar-url). The token is stored as is, not hashed,
// because the same URL must be handed back on every call; deleting the row revokes it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE calendar_feeds (
      user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      token text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    );
  `.execute(db);
}
