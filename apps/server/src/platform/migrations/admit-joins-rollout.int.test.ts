import { randomUUID } from "node:crypto";
import { Migrator, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { databaseUrl, runAdminQuery } from "../../../test/admin-sql.ts";
import { createDb, type Db } from "../db.ts";
import { migrations } from "./index.ts";

// Expand and contract of admit_joins (CONVENTIONS, "Modules"). Each expand adds a function version beside the
// ones before it, and keeps them until the contract migration of the next release, so a process of the
// previous release calling its version keeps getting answers in the shape it reads; the contract
// (20261208T0500) then drops them and events' stale counter columns.

const V2_EXPAND = "20261206T0100-admit-joins-v2";
const V3_EXPAND = "20261206T0300-admissions";
const CONTRACT = "20261208T0500-contract-admission";
// The migration just before the contract, whichever it is.
const CONTRACT_BEFORE = Object.keys(migrations)[Object.keys(migrations).indexOf(CONTRACT) - 1] ?? "";
const STALE_COUNTERS = ["confirmed_count", "waitlisted_count", "checked_in_count"];
type Version = "admit_joins" | "admit_joins_v2" | "admit_joins_v3";

const adminUrl = inject("adminDatabaseUrl");
const name = `turnout_t_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
let db: Db;
let close: () => Promise<void>;
let migrator: Migrator;

beforeAll(async () => {
  await runAdminQuery(adminUrl, `CREATE DATABASE ${name}`);
  ({ db, close } = createDb(databaseUrl(adminUrl, name), 2));
  migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
});
afterAll(async () => {
  await close();
  await runAdminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
});

describe("admit_joins during rolling deploys", () => {
  let eventId: string;

  it("after the v2 expand, the old and the new function admit into one event in turn, exactly", async () => {
    expect((await migrator.migrateTo(V2_EXPAND)).error).toBeUndefined();
    eventId = await createEvent(db, 4);

    const old = await admit(db, "admit_joins", eventId, [randomUUID(), randomUUID()]);
    const current = await admit(db, "admit_joins_v2", eventId, [randomUUID()]);

    expect(old).toMatchObject({ is_open: true, confirmed: 2, waitlisted: 0 });
    expect(current).toMatchObject({ is_open: true, confirmed: 3, waitlisted: 0 });
    expect(Object.keys(current ?? {}).sort()).toEqual(Object.keys(old ?? {}).sort());
  });

  it("the admissions expand copies every event's counters, and v3 admits on from them, exactly", async () => {
    expect((await migrator.migrateTo(V3_EXPAND)).error).toBeUndefined();
    const { rows } = await sql<{ state: string; capacity: number; confirmed: number; waitlisted: number }>`
      SELECT state, capacity, confirmed, waitlisted FROM admissions WHERE event_id = ${eventId}
    `.execute(db);
    expect(rows).toEqual([{ state: "open", capacity: 4, confirmed: 3, waitlisted: 0 }]);

    const next = await admit(db, "admit_joins_v3", eventId, [randomUUID(), randomUUID()]);
    expect(next).toMatchObject({ state: "open", is_open: true, capacity: 4, confirmed: 4, waitlisted: 1 });
    const places = await sql<{ status: string; count: number }>`
      SELECT status, count(*)::int AS count FROM participations WHERE event_id = ${eventId}
      GROUP BY status ORDER BY status
    `.execute(db);
    expect(places.rows).toEqual([
      { status: "confirmed", count: 4 },
      { status: "waitlisted", count: 1 },
    ]);
  });

  it("keeps v2 answering in its own shape for processes of the previous release", async () => {
    const previous = await admit(db, "admit_joins_v2", await createEvent(db, 1), [randomUUID()]);
    expect(previous).toMatchObject({ status: "published", is_open: true, confirmed: 1 });
  });

  it("keeps every older function until the contract, one release after its expand", async () => {
    expect((await migrator.migrateTo(CONTRACT_BEFORE)).error).toBeUndefined();
    expect(await admitFunctions(db)).toEqual(["admit_joins", "admit_joins_v2", "admit_joins_v3"]);
    expect(await eventColumns(db)).toEqual(expect.arrayContaining(STALE_COUNTERS));
  });

  it("the contract drops the older functions and events' stale counters, and v3 admits on", async () => {
    expect((await migrator.migrateTo(CONTRACT)).error).toBeUndefined();
    expect(await admitFunctions(db)).toEqual(["admit_joins_v3"]);
    const columns = await eventColumns(db);
    expect(columns).toContain("capacity");
    expect(columns.filter((column) => STALE_COUNTERS.includes(column))).toEqual([]);
    const next = await admit(db, "admit_joins_v3", eventId, [randomUUID()]);
    expect(next).toMatchObject({ state: "open", capacity: 4, confirmed: 4, waitlisted: 2 });
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
  });
});

async function admitFunctions(db: Db): Promise<string[]> {
  const { rows } = await sql<{ proname: string }>`
    SELECT proname FROM pg_proc WHERE proname LIKE 'admit_joins%' ORDER BY proname
  `.execute(db);
  return rows.map((row) => row.proname);
}

async function eventColumns(db: Db): Promise<string[]> {
  const { rows } = await sql<{ column_name: string }>`
    SELECT column_name FROM information_schema.columns WHERE table_name = 'events'
  `.execute(db);
  return rows.map((row) => row.column_name);
}

async function admit(
  db: Db,
  fn: Version,
  eventId: string,
  users: string[],
): Promise<Record<string, unknown> | null> {
  const { rows } = await sql<{ admission: Record<string, unknown> | null }>`
    SELECT ${sql.raw(fn)}(${eventId}::uuid, ${users}::uuid[], now()) AS admission
  `.execute(db);
  return rows[0]?.admission ?? null;
}

// Inserted as the previous releases did: an events row only (the admissions expand copies it).
async function createEvent(db: Db, capacity: number): Promise<string> {
  const organizerId = randomUUID();
  const eventId = randomUUID();
  await sql`
    INSERT INTO users (id, email, name, password_hash, role)
    VALUES (${organizerId}, ${`${organizerId}@rollout.test`}, 'Organizer', 'not-a-hash', 'user')
  `.execute(db);
  await sql`
    INSERT INTO events (id, organizer_id, title, starts_at, ends_at, timezone, category, capacity,
      waitlist_limit, visibility, status)
    VALUES (${eventId}, ${organizerId}, 'Rollout', now() + interval '1 day', now() + interval '2 days', 'UTC',
      'music', ${capacity}, 10, 'public', 'published')
  `.execute(db);
  return eventId;
}
