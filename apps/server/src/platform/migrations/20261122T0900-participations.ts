import { type Kysely, sql } from "kysely";

// A person's place at an event. One row per (event, user), whatever happens to it: joining again after a
// cancel reuses the row with a new queue number, so "one place per person" is the primary key itself.
//
// `queue_number` orders the event's queue: numbers are drawn from one sequence while the event's row is
// locked, so for one event they follow the order in which joins were decided (ADR 0005). The waitlist is
// the waitlisted rows by queue number; a freed seat goes to the lowest.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE SEQUENCE participation_queue_numbers;

    CREATE TABLE participations (
      event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES users (id),
      status text NOT NULL
        CHECK (status IN ('confirmed', 'waitlisted', 'cancelled', 'removed', 'event_cancelled')),
      queue_number bigint NOT NULL,
      joined_at timestamptz NOT NULL,
      confirmed_at timestamptz,
      checked_in_at timestamptz,
      removed_reason text,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (event_id, user_id),
      CONSTRAINT participations_checked_in_when_confirmed CHECK (checked_in_at IS NULL OR confirmed_at IS NOT NULL)
    );

    -- The lists an organizer reads, the waitlist head and a waitlisted person's position.
    CREATE INDEX participations_confirmed_idx ON participations (event_id, queue_number)
      WHERE status = 'confirmed';
    CREATE INDEX participations_waitlist_idx ON participations (event_id, queue_number)
      WHERE status = 'waitlisted';
    -- A person's own participations, latest first.
    CREATE INDEX participations_user_idx ON participations (user_id, queue_number);
  `.execute(db);
}
