import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { createTokenKey, signAccessToken } from "../../apps/server/src/modules/auth/index.ts";
import type { Db } from "../../apps/server/src/platform/db.ts";
import { createBenchDatabase } from "./bench-database.ts";
import { processCpuMs } from "./burst.ts";
import { BENCH_TOKEN_SECRET } from "./turnout-server.ts";

// The data of the joins scenario: a migrated scratch database with many users and their access tokens,
// and events made straight in SQL (the scenario measures joining, not event creation).

export interface JoinsDatabase {
  url: string;
  /** Access tokens of distinct users, none the organizer of any event. */
  tokens: string[];
  createEvent(seats: { capacity: number; waitlistLimit: number }): Promise<string>;
  /** Counters and rows of an event, to check exactness. */
  readEvent(eventId: string): Promise<EventCheck>;
  /** What autovacuum has done so far to the tables a join writes, one line. */
  describeAutovacuum(): Promise<string>;
  /**
   * The calls of admit_joins_v3 so far and the time PostgreSQL spent in them, row lock waits included
   * (pg_stat_user_functions: the database tracks PL/pgSQL functions' time). Each backend reports at the end of
   * its transactions, at most once a second: read it a second after the calls to count.
   */
  admissionCalls(): Promise<{ calls: number; ms: number }>;
  /**
   * Vacuums and analyzes the tables a join writes, as autovacuum will once it gets to them, and answers the
   * CPU ms and wall ms its session took (a manual VACUUM, so without autovacuum's cost-based pauses).
   */
  vacuumJoinTables(): Promise<{ cpuMs: number; wallMs: number; steps: Record<string, number> }>;
  drop(): Promise<void>;
}

export interface EventCheck {
  confirmedCount: number;
  waitlistedCount: number;
  /** user ids by status, in queue order */
  confirmed: string[];
  waitlisted: string[];
  rows: number;
}

const SIGNING_SLICE = 1_000;

// What autovacuum does to the tables a join writes once enough rows were inserted, one step at a time.
const VACUUM_STEPS = [
  "VACUUM participations",
  "ANALYZE participations",
  "VACUUM outbox",
  "ANALYZE outbox",
  "VACUUM (ANALYZE) admissions",
];

/** Creates the database on `adminUrl`'s server with `userCount` users and one token each. */
export async function createJoinsDatabase(adminUrl: string, userCount: number): Promise<JoinsDatabase> {
  const organizerId = randomUUID();
  let userIds: string[] = [];
  const database = await createBenchDatabase(adminUrl, async (db) => {
    await sql`
      INSERT INTO users (id, email, name, password_hash, role)
      VALUES (${organizerId}, 'organizer@bench.test', 'Bench Organizer', 'not-a-hash', 'user')
    `.execute(db);
    const users = await sql<{ id: string }>`
      INSERT INTO users (id, email, name, password_hash, role)
      SELECT gen_random_uuid(), 'joiner' || n || '@bench.test', 'Joiner ' || n, 'not-a-hash', 'user'
      FROM generate_series(1, ${userCount}::int) AS n
      RETURNING id
    `.execute(db);
    userIds = users.rows.map((row) => row.id);
    await sql`ANALYZE users`.execute(db);
    // For admissionCalls: sessions opened from now on (the server's) inherit it.
    await sql`
      DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET track_functions = ''pl''', current_database()); END $$
    `.execute(db);
  });
  const { db } = database;
  const key = createTokenKey(BENCH_TOKEN_SECRET);
  const now = new Date();
  // In slices: 300,000 signatures under way at once grew this process (the load generator) to 2.7 GB, and
  // its collector then cost the storm a tenth of its rate.
  const user = (id: string) => ({ id, role: "user" as const, sessionId: randomUUID() });
  const tokens: string[] = [];
  for (let start = 0; start < userIds.length; start += SIGNING_SLICE) {
    const slice = userIds.slice(start, start + SIGNING_SLICE);
    tokens.push(...(await Promise.all(slice.map((id) => signAccessToken(key, user(id), now)))));
  }
  return {
    url: database.url,
    tokens,
    async createEvent({ capacity, waitlistLimit }) {
      const id = randomUUID();
      await sql`
        INSERT INTO events (id, organizer_id, title, starts_at, ends_at, timezone, category, capacity,
          waitlist_limit, visibility, status)
        VALUES (${id}, ${organizerId}, 'Flash crowd', now() + interval '1 day', now() + interval '2 days',
          'UTC', 'music', ${capacity}, ${waitlistLimit}, 'public', 'published')
      `.execute(db);
      // Its admission, as the events module opens it through participation's door (ADR 0011).
      await sql`
        INSERT INTO admissions (event_id, organizer_id, state, ends_at, capacity, waitlist_limit)
        SELECT id, organizer_id, 'open', ends_at, capacity, waitlist_limit FROM events WHERE id = ${id}
      `.execute(db);
      return id;
    },
    readEvent: (eventId) => readEvent(db, eventId),
    vacuumJoinTables: () =>
      db.connection().execute(async (session) => {
        const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(session);
        const pid = rows[0]?.pid ?? 0;
        const steps: Record<string, number> = {};
        const startedAt = performance.now();
        for (const step of VACUUM_STEPS) {
          const cpuBefore = processCpuMs(pid);
          await sql.raw(step).execute(session);
          steps[step] = processCpuMs(pid) - cpuBefore;
        }
        const cpuMs = Object.values(steps).reduce((sum, ms) => sum + ms, 0);
        return { cpuMs, wallMs: Math.round(performance.now() - startedAt), steps };
      }),
    async describeAutovacuum() {
      const { rows } = await sql<{ line: string }>`
        SELECT relname || ': ' || n_live_tup || ' rows, ' || n_ins_since_vacuum || ' inserted since vacuum, ' ||
          autovacuum_count || ' autovacuums, ' || autoanalyze_count || ' autoanalyzes' ||
          coalesce(', last ' || round(extract(epoch FROM now() - greatest(last_autovacuum, last_autoanalyze))) ||
            ' s ago', '') AS line
        FROM pg_stat_user_tables WHERE relname IN ('participations', 'outbox', 'admissions') ORDER BY relname
      `.execute(db);
      return rows.map((row) => row.line).join("; ");
    },
    async admissionCalls() {
      const { rows } = await sql<{ calls: string; ms: number }>`
        SELECT calls, total_time AS ms FROM pg_stat_user_functions WHERE funcname = 'admit_joins_v3'
      `.execute(db);
      return { calls: Number(rows[0]?.calls ?? 0), ms: rows[0]?.ms ?? 0 };
    },
    drop: database.drop,
  };
}

// One snapshot for counter and rows: joins still in flight may commit between two reads.
async function readEvent(db: Db, eventId: string): Promise<EventCheck> {
  return db
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute(async (trx) => {
      const admission = await trx
        .selectFrom("admissions")
        .select(["confirmed", "waitlisted"])
        .where("event_id", "=", eventId)
        .executeTakeFirstOrThrow();
      const rows = await trx
        .selectFrom("participations")
        .select(["user_id", "status"])
        .where("event_id", "=", eventId)
        .orderBy("queue_number")
        .execute();
      const byStatus = (status: string) =>
        rows.filter((row) => row.status === status).map((row) => row.user_id);
      return {
        confirmedCount: admission.confirmed,
        waitlistedCount: admission.waitlisted,
        confirmed: byStatus("confirmed"),
        waitlisted: byStatus("waitlisted"),
        rows: rows.length,
      };
    });
}
