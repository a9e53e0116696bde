import { EVENT_CATEGORY_SLUGS } from "@turnout/contracts";
import { sql } from "kysely";
import { createBenchDatabase } from "./bench-database.ts";

// The data of the read scenario: 100,000 events written in one INSERT ... SELECT, shaped like a busy
// instance: most published and public, the rest drafts, unlisted or cancelled; start times a year either
// side of now; titles and descriptions from a vocabulary, so searches hit many events.

const SUBJECTS = [
  "Rust",
  "Jazz",
  "Yoga",
  "Startup",
  "Poetry",
  "Chess",
  "Vinyl",
  "Climbing",
  "Pottery",
  "Data",
];
const FORMATS = ["meetup", "night", "workshop", "festival", "social", "conference", "jam", "walk", "club"];
const CITIES = ["Berlin", "Lisbon", "Madrid", "Oslo", "Vienna", "Prague", "Dublin", "Milan", "Porto", "Riga"];

export interface ReadDatabase {
  url: string;
  /** A published public event that has not ended. */
  eventId: string;
  drop(): Promise<void>;
}

/** Creates the scratch database with `eventCount` events and a few hundred organizers. */
export async function createReadDatabase(adminUrl: string, eventCount: number): Promise<ReadDatabase> {
  const database = await createBenchDatabase(adminUrl, async (db) => {
    await sql`
      INSERT INTO users (id, email, name, password_hash, role)
      SELECT gen_random_uuid(), 'organizer' || n || '@bench.test', 'Organizer ' || n, 'not-a-hash', 'user'
      FROM generate_series(1, 300) AS n
    `.execute(db);
    await sql`
      WITH organizers AS (SELECT array_agg(id) AS ids FROM users)
      INSERT INTO events (id, organizer_id, title, description, starts_at, ends_at, timezone, venue, category,
        tags, capacity, waitlist_limit, visibility, status)
      SELECT gen_random_uuid(),
        organizers.ids[1 + n % 300],
        subject || ' ' || format || ' in ' || city,
        'A ' || format || ' for everyone into ' || lower(subject) || '. Bring friends; ' || city ||
          ' has the best crowd for it. Doors open half an hour before the start.',
        starts_at,
        starts_at + (2 + n % 3) * interval '1 hour',
        'Europe/Berlin',
        jsonb_build_object('name', city || ' Hall ' || (n % 40), 'address', (n % 200) || ' Main Street, ' || city),
        (${EVENT_CATEGORY_SLUGS}::text[])[1 + n % ${EVENT_CATEGORY_SLUGS.length}],
        ARRAY[lower(subject), lower(format)],
        CASE WHEN n % 5 = 0 THEN NULL ELSE 20 + n % 500 END,
        CASE WHEN n % 3 = 0 THEN 0 ELSE NULL END,
        CASE WHEN n % 20 = 0 THEN 'unlisted' ELSE 'public' END,
        CASE WHEN n % 25 = 0 THEN 'draft' WHEN n % 31 = 0 THEN 'cancelled' ELSE 'published' END
      FROM generate_series(1, ${eventCount}::int) AS n
      CROSS JOIN organizers
      CROSS JOIN LATERAL (
        SELECT (${SUBJECTS}::text[])[1 + n % ${SUBJECTS.length}] AS subject,
          (${FORMATS}::text[])[1 + (n / 10) % ${FORMATS.length}] AS format,
          (${CITIES}::text[])[1 + (n / 90) % ${CITIES.length}] AS city,
          now() + ((n * 7919) % 1051200 - 525600) * interval '1 minute' AS starts_at
      ) AS words
    `.execute(db);
    // Each event's admission (participation's, ADR 0011), with a few confirmed people for the pages to show.
    await sql`
      INSERT INTO admissions (event_id, organizer_id, state, ends_at, capacity, waitlist_limit, confirmed)
      SELECT id, organizer_id,
        CASE status WHEN 'draft' THEN 'draft' WHEN 'published' THEN 'open' ELSE 'closed' END,
        ends_at, capacity, waitlist_limit, least(coalesce(capacity, 19), (row_number() OVER (ORDER BY id)) % 20)
      FROM events
    `.execute(db);
    await sql`VACUUM ANALYZE events, admissions`.execute(db);
  });
  const upcoming = await sql<{ id: string }>`
    SELECT id FROM events WHERE status = 'published' AND visibility = 'public' AND starts_at > now()
    ORDER BY starts_at LIMIT 1
  `.execute(database.db);
  const eventId = upcoming.rows[0]?.id;
  if (eventId === undefined) {
    await database.drop();
    throw new Error("the read data has no upcoming published event");
  }
  return { url: database.url, eventId, drop: database.drop };
}
