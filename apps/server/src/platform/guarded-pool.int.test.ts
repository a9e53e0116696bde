import { sql } from "kysely";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { runAdminQuery } from "../../test/admin-sql.ts";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { AppError } from "./errors.ts";

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

it("survives the server ending a session between two statements of a transaction: the next one is 503", async () => {
  let caught: unknown = null;
  await database.db
    .transaction()
    .execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
      // While the app holds the session between statements, the server ends it (as a dying server does).
      await runAdminQuery(inject("adminDatabaseUrl"), `SELECT pg_terminate_backend(${rows[0]?.pid ?? 0})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await sql`SELECT 1`.execute(trx);
    })
    .catch((error: unknown) => {
      caught = error;
    });

  expect(caught).toBeInstanceOf(AppError);
  expect(caught).toMatchObject({ code: "service.unavailable", status: 503 });
  // The pool discarded that session and serves the next request.
  const { rows } = await sql<{ ok: number }>`SELECT 3 AS ok`.execute(database.db);
  expect(rows).toEqual([{ ok: 3 }]);
});
