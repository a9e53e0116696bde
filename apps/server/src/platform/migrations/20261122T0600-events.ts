import { type Kysely, sql } from "kysely";

// Events: the thing people attend. Ids are uuid v7 made by the app, so they sort by creation.
//
// The discovery feed reads only published public events that have not ended, ordered by (starts_at, id):
// those running now (GiST on their time range) and those still to come (btree on starts_at, one per feed
// filter). The indexes are partial, over published public rows only, so no feed query scans the table.
// The participation module maintains the three counters (and may rely on the capacity check below).
// `category` has no CHECK: the list of slugs lives in @turnout/contracts and can grow without a migration.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE events (
      id uuid PRIMARY KEY,
      organizer_id uuid NOT NULL REFERENCES users (id),
      title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 120),
      description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
      starts_at timestamptz NOT NULL,
      ends_at timestamptz NOT NULL,
      timezone text NOT NULL,
      venue jsonb CHECK (venue IS NULL OR jsonb_typeof(venue) = 'object'),
      online_url text,
      category text NOT NULL,
      tags text[] NOT NULL DEFAULT '{}',
      capacity integer CHECK (capacity BETWEEN 1 AND 1000000),
      waitlist_limit integer CHECK (waitlist_limit >= 0),
      visibility text NOT NULL CHECK (visibility IN ('public', 'unlisted')),
      status text NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
      cancel_reason text,
      cover_photo_url text,
      confirmed_count integer NOT NULL DEFAULT 0 CHECK (confirmed_count >= 0),
      waitlisted_count integer NOT NULL DEFAULT 0 CHECK (waitlisted_count >= 0),
      checked_in_count integer NOT NULL DEFAULT 0 CHECK (checked_in_count >= 0),
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      search_vector tsvector NOT NULL GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', description), 'B')
        || setweight(
          to_tsvector('english', coalesce(venue ->> 'name', '') || ' ' || coalesce(venue ->> 'address', '')),
          'C'
        )
      ) STORED,
      CONSTRAINT events_ends_after_start CHECK (ends_at > starts_at),
      -- The last line of defence of "never more confirmed than capacity", whatever code runs.
      CONSTRAINT events_confirmed_within_capacity CHECK (capacity IS NULL OR confirmed_count <= capacity)
    );

    CREATE INDEX events_feed_idx ON events (starts_at, id)
      WHERE status = 'published' AND visibility = 'public';
    CREATE INDEX events_feed_category_idx ON events (category, starts_at, id)
      WHERE status = 'published' AND visibility = 'public';
    CREATE INDEX events_feed_tags_idx ON events USING gin (tags)
      WHERE status = 'published' AND visibility = 'public';
    CREATE INDEX events_feed_search_idx ON events USING gin (search_vector)
      WHERE status = 'published' AND visibility = 'public';
    -- The events running right now (see feed.repo.ts).
    CREATE INDEX events_feed_ongoing_idx ON events USING gist (tstzrange(starts_at, ends_at))
      WHERE status = 'published' AND visibility = 'public';
    -- Serves both the feed's organizer filter and an organizer's own list (every status).
    CREATE INDEX events_organizer_idx ON events (organizer_id, starts_at, id);
  `.execute(db);
}
