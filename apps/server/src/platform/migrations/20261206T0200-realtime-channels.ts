import { type Kysely, sql } from "kysely";

// The real-time gateway's channel log (modules/realtime, ADR 0013): every channel message with its position on
// that channel, numbered once by the sequencer so every gateway node agrees, and kept for resume.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE realtime_channels (
      channel text PRIMARY KEY,
      last_seq bigint NOT NULL
    );
    CREATE TABLE realtime_messages (
      channel text NOT NULL,
      seq bigint NOT NULL,
      outbox_id bigint NOT NULL,
      type text NOT NULL,
      data jsonb NOT NULL,
      occurred_at timestamptz NOT NULL,
      PRIMARY KEY (channel, seq)
    );
    CREATE INDEX realtime_messages_outbox_id_idx ON realtime_messages (outbox_id);
  `.execute(db);
}
