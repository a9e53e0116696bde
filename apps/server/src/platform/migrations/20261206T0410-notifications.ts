import { type Kysely, sql } from "kysely";

// Announcements organizers post, and the in-app notifications of every person (modules/notifications owns
// both). `source` names the trigger a notification came from (`announcement:<id>`, `participation:<outbox id>`);
// unique per person, so a trigger handled twice still leaves one notification.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE announcements (
      id uuid PRIMARY KEY,
      event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
      author_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      message text NOT NULL,
      created_at timestamptz NOT NULL
    );
    CREATE INDEX announcements_event_idx ON announcements (event_id, id DESC);

    CREATE TABLE notifications (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN (
        'participation.confirmed', 'participation.promoted', 'event.changed', 'event.cancelled', 'announcement', 'reminder'
      )),
      event_id uuid REFERENCES events (id) ON DELETE CASCADE,
      title text NOT NULL,
      body text NOT NULL,
      source text NOT NULL,
      created_at timestamptz NOT NULL,
      read_at timestamptz,
      UNIQUE (user_id, source)
    );
    CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
    CREATE INDEX notifications_unread_idx ON notifications (user_id, id DESC) WHERE read_at IS NULL;
  `.execute(db);
}
