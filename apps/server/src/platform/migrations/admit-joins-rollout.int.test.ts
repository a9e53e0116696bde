import { randomUUID } from "node:crypto";
import { Migrator, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { databaseUrl, runAdminQuery } from "../../../test/admin-sql.ts";
import { createDb, type Db } from "../db.ts";
import { migrations } from "./index.ts";

// Expand and contract of admit_joins (CONVENTIONS, "Modules"): between the expand and the contract, processes
// of the previous release (calling admit_joins) and of the new one (admit_joins_v2) serve joins of the same
// events side by side, and both must keep working and agree.

const EXPAND = "20261206T0100-admit-joins-v2";

const adminUrl = inject("adminDatabaseUrl");
const name = `turnout_t_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
let db: Db;
let close: () => Promise<void>;

beforeAll(async () => {
  await runAdminQuery(adminUrl, `CREATE DATABASE ${name}`);
  ({ db, close } = createDb(databaseUrl(adminUrl, name), 2));
});
afterAll(async () => {
  await close();
  await runAdminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
});

describe("admit_joins during a rolling deploy", () => {
  it("after the expand, the old and the new function admit into one event in turn, exactly", async () => {
    const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
    const { error } = await migrator.migrateTo(EXPAND);
    expect(error).toBeUndefined();
    const eventId = await createEvent(db, 3);

    const old = await admit(db, "admit_joins", eventId, [randomUUID(), randomUUID()]);
    const current = await admit(db, "admit_joins_v2", eventId, [randomUUID(), randomUUID()]);

    expect(old).toMatchObject({ is_open: true, confirmed: 2, waitlisted: 0 });
    expect(current).toMatchObject({ is_open: true, confirmed: 3, waitlisted: 1 });
    expect(Object.keys(current ?? {}).sort()).toEqual(Object.keys(old ?? {}).sort());
  });

  it("keeps the old function at the latest migration: the contract ships one release after the expand", async () => {
    const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
    const { error } = await migrator.migrateToLatest();
    expect(error).toBeUndefined();
    const { rows } = await sql<{ proname: string }>`
      SELECT proname FROM pg_proc WHERE proname LIKE 'admit_joins%' ORDER BY proname
    `.execute(db);
    expect(rows.map((row) => row.proname)).toEqual(["admit_joins", "admit_joins_v2"]);
  });
});

async function admit(
  db: Db,
  fn: "admit_joins" | "admit_joins_v2",
  eventId: string,
  users: string[],
): Promise<Record<string, unknown> | null> {
  const { rows } = await sql<{ admission: Record<string, unknown> | null }>`
    SELECT ${sql.raw(fn)}(${eventId}::uuid, ${users}::uuid[], now()) AS admission
  `.execute(db);
  return rows[0]?.admission ?? null;
}

async function createEvent(db: Db, capacity: number): Promise<string> {
  const organizerId = randomUUID();
  const eventId = randomUUID();
  await sql`
    INSERT INTO users (id, email, name, password_hash, role)
    VALUES (${organizerId}, 'organizer@rollout.test', 'Organizer', 'not-a-hash', 'user')
  `.execute(db);
  await sql`
    INSERT INTO events (id, organizer_id, title, starts_at, ends_at, timezone, category, capacity,
      waitlist_limit, visibility, status)
    VALUES (${eventId}, ${organizerId}, 'Rollout', now() + interval '1 day', now() + interval '2 days', 'UTC',
      'music', ${capacity}, 10, 'public', 'published')
  `.execute(db);
  return eventId;
}
