import { sql } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/database.ts";
import { appendOutboxMany } from "./outbox.ts";

// ANALYZE of the outbox keeps statistics only for what its queries filter and sort on (migration
// 20261209T0500, ADR 0005): the payload's statistics made autovacuum's ANALYZE after a flash crowd cost four times as much.

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

it("analyzes only id and sent_at, and the relay still reads the unsent rows by their index", async () => {
  await database.db.transaction().execute(async (trx) => {
    await appendOutboxMany(
      trx,
      Array.from({ length: 500 }, (_, index) => ({
        aggregateType: "event",
        aggregateId: `event-${index % 7}`,
        type: "participation.changed.v1",
        data: { eventId: `event-${index % 7}`, userId: `user-${index}`, status: "confirmed" },
      })),
    );
  });
  await sql`ANALYZE outbox`.execute(database.db);
  const stats = await sql<{ attname: string }>`
    SELECT attname FROM pg_stats WHERE schemaname = 'public' AND tablename = 'outbox' ORDER BY attname
  `.execute(database.db);
  expect(stats.rows.map((row) => row.attname)).toEqual(["id", "sent_at"]);
  const plan = await sql<{ "QUERY PLAN": string }>`
    EXPLAIN SELECT id FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 100
  `.execute(database.db);
  expect(plan.rows.map((row) => row["QUERY PLAN"]).join("\n")).toContain("outbox_unsent_idx");
});
