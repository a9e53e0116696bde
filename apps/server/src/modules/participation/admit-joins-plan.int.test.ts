import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";

/*
 * The plan of admit_joins_v3 stays flat over thousands of calls on one session (ADR 0005). PL/pgSQL keeps a
 * statement's plan for the session; one made while the event's participations looked few once scanned all of
 * them on every call: 4 ms per batch after 300 calls, 41 ms after 3,000. Time on this shared machine is too
 * noisy to assert on, so the test counts what the plan reads: the heap pages of `participations` each call
 * fetched (pg_stat_get_xact_blocks_fetched before and after the call, in one message: the backend adds its
 * pending counts to the shared ones only between messages, so the difference is exactly the call's). Probes by primary key
 * fetch a few pages per joiner whatever the table holds; a scan fetches every page of it. Statistics stay as
 * they were when the plans were made (autovacuum off on the table), as in a session that runs for hours.
 */

const CALLS = 3_000;
const JOINERS = 10;
const EARLY = { from: 10, to: 110 }; // past the first five calls, after which PL/pgSQL may keep a generic plan
const LATE = CALLS - 100;

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((database) => database.drop()));
});

describe("admit_joins_v3's plan over 3,000 calls on one session", () => {
  it("reads as many participation pages in the last 100 calls as in the first: probes, never a scan", async () => {
    const blocks = await measureHeapBlocks("admit_joins_v3", CALLS);
    const early = mean(blocks.slice(EARLY.from, EARLY.to));
    const late = mean(blocks.slice(LATE));
    // Measured: 20.3 pages a call, early and late.
    expect(isFlat(early, late), `pages per call: ${early} early, ${late} late`).toBe(true);
  });

  it("fails without the primary-key probes: the same function joining the participations plainly", async () => {
    // The regression's shape: the joiners' places read by a plain join, which the kept plan turns into a
    // read of every participation of the event. Measured over 3,000 calls: 547 pages a call early, 29,448
    // late (without enable_seqscan = off as well: 29 and 442). 600 calls show it already.
    const blocks = await measureHeapBlocks("admit_joins_v3", 600, (definition) =>
      definition.replace(
        /CROSS JOIN LATERAL \(\s*SELECT \* FROM participations WHERE event_id = p_event AND user_id = r\.user_id LIMIT 1\s*\) AS p/,
        "JOIN participations p ON p.event_id = p_event AND p.user_id = r.user_id",
      ),
    );
    const early = mean(blocks.slice(EARLY.from, EARLY.to));
    const late = mean(blocks.slice(-100));
    expect(isFlat(early, late), `pages per call: ${early} early, ${late} late`).toBe(false);
  });
});

// Flat: the late calls fetch no more than twice the early ones' pages, and a handful per joiner at most.
function isFlat(early: number, late: number): boolean {
  return late <= 2 * early && late <= 4 * JOINERS;
}

/**
 * Calls `fn` (or, with `rewrite`, a copy of it made from its rewritten definition) `calls` times on one session
 * of a fresh database, each time for JOINERS new users of one event, and returns the heap pages of
 * `participations` each call fetched.
 */
async function measureHeapBlocks(
  fn: string,
  calls: number,
  rewrite?: (definition: string) => string,
): Promise<number[]> {
  const database = await createTestDatabase();
  databases.push(database);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(`
      ALTER TABLE participations SET (autovacuum_enabled = off);
      ANALYZE participations;
    `);
    let called = fn;
    if (rewrite !== undefined) {
      const { rows } = await client.query<{ definition: string }>(
        `SELECT pg_get_functiondef('${fn}'::regproc) AS definition`,
      );
      const original = rows[0]?.definition ?? "";
      called = `${fn}_rewritten`;
      const copy = rewrite(original).replace(`public.${fn}(`, `public.${called}(`);
      expect(copy).not.toBe(original.replace(`public.${fn}(`, `public.${called}(`));
      await client.query(copy);
    }
    const eventId = await createOpenEvent(client);
    const blocks: number[] = [];
    for (let call = 0; call < calls; call++) {
      const users = Array.from({ length: JOINERS }, () => `"${randomUUID()}"`).join(",");
      const results: unknown = await client.query(`
        BEGIN;
        SELECT pg_stat_get_xact_blocks_fetched('participations'::regclass)::int AS blocks;
        SELECT ${called}('${eventId}'::uuid, '{${users}}'::uuid[], now()) IS NOT NULL AS answered;
        SELECT pg_stat_get_xact_blocks_fetched('participations'::regclass)::int AS blocks;
        COMMIT;
      `);
      expect(cellOf(results, 2, "answered")).toBe(true);
      const before = cellOf(results, 1, "blocks");
      const after = cellOf(results, 3, "blocks");
      if (typeof before !== "number" || typeof after !== "number") throw new Error("no block count");
      blocks.push(after - before);
    }
    const { rows } = await client.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM participations WHERE event_id = $1 AND status = 'confirmed'",
      [eventId],
    );
    expect(rows[0]?.count).toBe(calls * JOINERS);
    return blocks;
  } finally {
    await client.end();
  }
}

async function createOpenEvent(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ id: string }>(`
    WITH organizer AS (
      INSERT INTO users (id, email, name, password_hash, role)
      VALUES (gen_random_uuid(), 'organizer@plan.test', 'Organizer', 'not-a-hash', 'user')
      RETURNING id
    )
    , event AS (
      INSERT INTO events (id, organizer_id, title, starts_at, ends_at, timezone, category, capacity,
        waitlist_limit, visibility, status)
      SELECT gen_random_uuid(), id, 'Plan', now() + interval '1 day', now() + interval '2 days', 'UTC', 'music',
        1000000, 0, 'public', 'published'
      FROM organizer
      RETURNING id, organizer_id, ends_at, capacity, waitlist_limit
    )
    INSERT INTO admissions (event_id, organizer_id, state, ends_at, capacity, waitlist_limit)
    SELECT id, organizer_id, 'open', ends_at, capacity, waitlist_limit FROM event
    RETURNING event_id AS id
  `);
  const id = rows[0]?.id;
  if (id === undefined) throw new Error("no event");
  return id;
}

// A multi-statement query answers with one result per statement; the first row's `column` of one of them.
function cellOf(results: unknown, statement: number, column: string): unknown {
  if (!Array.isArray(results)) throw new Error("expected one result per statement");
  const result: unknown = results[statement];
  if (typeof result !== "object" || result === null || !("rows" in result) || !Array.isArray(result.rows))
    throw new Error(`no result for statement ${statement}`);
  const row: unknown = result.rows[0];
  if (typeof row !== "object" || row === null || !(column in row))
    throw new Error(`no ${column} in the result`);
  return (row as Record<string, unknown>)[column];
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}
