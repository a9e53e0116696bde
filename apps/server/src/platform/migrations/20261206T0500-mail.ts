import { type Kysely, sql } from "kysely";

// E-mail (modules/mail owns both tables). `mail_preferences`: which mails a person wants and in which language
// (no row: every mail, language unknown). `mail_messages`: one row per mail to send, unique by `key` (the
// notification it tells of), so a trigger handled twice still sends one mail; `status` moves from `pending`
// to `sent` (or `skipped` when the person opted out before it left) in the send job's transaction.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE mail_preferences (
      user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      email_on_join boolean NOT NULL DEFAULT true,
      email_on_promotion boolean NOT NULL DEFAULT true,
      email_on_event_change boolean NOT NULL DEFAULT true,
      email_on_announcement boolean NOT NULL DEFAULT true,
      email_reminders boolean NOT NULL DEFAULT true,
      locale text CHECK (locale IN ('en', 'de')),
      updated_at timestamptz NOT NULL
    );

    CREATE TABLE mail_messages (
      id uuid PRIMARY KEY,
      key text NOT NULL UNIQUE,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN (
        'participation.confirmed', 'participation.promoted', 'event.changed', 'event.cancelled', 'announcement', 'reminder'
      )),
      locale text NOT NULL CHECK (locale IN ('en', 'de')),
      params jsonb NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'skipped')),
      to_address text,
      subject text,
      created_at timestamptz NOT NULL,
      sent_at timestamptz
    );
    CREATE INDEX mail_messages_order_idx ON mail_messages (id DESC);
  `.execute(db);
}
