import { sql } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";

// Slow is not down (ADR 0007): while PostgreSQL answers the watchdog's pings, a statement on the serving pool
// may take longer than the 2 s an outage gets. (Down is tested on real processes: embedded-outage.int.test.ts.)

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.drop();
});

it("lets a 2.5 s statement finish, and another session answer meanwhile", async () => {
  const startedAt = performance.now();
  const slow = sql<{ ok: number }>`SELECT 1 AS ok FROM pg_sleep(2.5)`.execute(database.db);
  const quick = await sql<{ ok: number }>`SELECT 2 AS ok`.execute(database.db);
  const quickMs = performance.now() - startedAt;
  const { rows } = await slow;
  const slowMs = performance.now() - startedAt;

  expect(rows).toEqual([{ ok: 1 }]);
  expect(quick.rows).toEqual([{ ok: 2 }]);
  expect(slowMs).toBeGreaterThanOrEqual(2_500);
  expect(quickMs).toBeLessThan(1_000);
});
