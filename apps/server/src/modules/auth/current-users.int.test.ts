import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { buildApp } from "../../app.ts";
import { createDb, type DbHandle } from "../../platform/db.ts";
import { createCall, createPublished, eventBody } from "../../../test/events.support.ts";

// Issue 9, points 7 and 8: what a token may do follows the user's row now, in every process on the database.

let t: TestApp;
let admin: CreatedUser;
let organizer: CreatedUser;
// A second instance: its own app, pool and listening session on the same database.
let second: { app: FastifyInstance; pool: DbHandle };
const call = createCall(() => t);

beforeAll(async () => {
  t = await createTestApp();
  const pool = createDb(t.database.url, 5);
  second = { app: await buildApp({ ...t.deps, db: pool.db }), pool };
  await second.app.ready();
  admin = await createUser(t, { role: "admin" });
  organizer = await createUser(t);
});
afterAll(async () => {
  await second.app.close();
  await second.pool.close();
  await t.close();
});

const onSecond = (url: string, who: CreatedUser) =>
  second.app.inject({ method: "GET", url, headers: bearer(who) });

async function setRole(userId: string, role: "user" | "moderator" | "admin") {
  const response = await call("PATCH", `/api/admin/users/${userId}`, admin, { role });
  expect(response.statusCode).toBe(200);
}

describe("a role change", () => {
  it("takes effect on the next request with the token already issued, on this instance and another", async () => {
    const event = await createPublished(t, organizer);
    const url = `/api/events/${event.id}/participants?status=confirmed`;
    const moderator = await createUser(t, { role: "moderator" });
    // Both instances have seen the moderator, so both hold them in memory.
    expect((await call("GET", url, moderator)).statusCode).toBe(200);
    expect((await onSecond(url, moderator)).statusCode).toBe(200);

    await setRole(moderator.user.id, "user");
    const here = await call("GET", url, moderator);
    expect([here.statusCode, errorCode(here)]).toEqual([403, "auth.forbidden"]);
    await second.app.currentUsers.settle();
    const there = await onSecond(url, moderator);
    expect([there.statusCode, errorCode(there)]).toEqual([403, "auth.forbidden"]);

    await setRole(moderator.user.id, "moderator");
    expect((await call("GET", url, moderator)).statusCode).toBe(200);
    await second.app.currentUsers.settle();
    expect((await onSecond(url, moderator)).statusCode).toBe(200);
  });

  it("made in SQL by an operator also reaches every instance (the trigger notifies)", async () => {
    const moderator = await createUser(t, { role: "moderator" });
    const event = await createPublished(t, organizer);
    const url = `/api/events/${event.id}/participants?status=confirmed`;
    expect((await call("GET", url, moderator)).statusCode).toBe(200);
    expect((await onSecond(url, moderator)).statusCode).toBe(200);
    await sql`UPDATE users SET role = 'user' WHERE id = ${moderator.user.id}`.execute(t.deps.db);
    await Promise.all([t.app.currentUsers.settle(), second.app.currentUsers.settle()]);
    expect((await call("GET", url, moderator)).statusCode).toBe(403);
    expect((await onSecond(url, moderator)).statusCode).toBe(403);
  });

  it("promotes at once too: a user's token gains what the new role allows", async () => {
    const person = await createUser(t);
    const event = await createPublished(t, organizer);
    const url = `/api/events/${event.id}/participants?status=confirmed`;
    expect((await onSecond(url, person)).statusCode).toBe(403);
    await setRole(person.user.id, "moderator");
    await second.app.currentUsers.settle();
    expect((await onSecond(url, person)).statusCode).toBe(200);
  });
});

describe("a deleted user's token", () => {
  async function deletedUser(): Promise<CreatedUser> {
    const gone = await createUser(t);
    // Seen first, so a stale memory of them would let them through.
    expect((await call("GET", "/api/me", gone)).statusCode).toBe(200);
    expect((await onSecond("/api/me", gone)).statusCode).toBe(200);
    await sql`DELETE FROM users WHERE id = ${gone.user.id}`.execute(t.deps.db);
    await Promise.all([t.app.currentUsers.settle(), second.app.currentUsers.settle()]);
    return gone;
  }

  const expectInvalidToken = (response: { statusCode: number; json(): unknown }) => {
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({
      error: { code: "auth.invalid_token", message: "The access token is not valid." },
    });
  };

  it("is 401 auth.invalid_token on GET /api/me, on both instances", async () => {
    const gone = await deletedUser();
    expectInvalidToken(await call("GET", "/api/me", gone));
    expectInvalidToken(await onSecond("/api/me", gone));
  });

  it("is 401 on create, on join (no participation made) and with an Idempotency-Key (nothing stored)", async () => {
    const event = await createPublished(t, organizer);
    const gone = await deletedUser();
    expectInvalidToken(await call("POST", "/api/events", gone, eventBody(t)));
    expectInvalidToken(await call("POST", `/api/events/${event.id}/join`, gone));
    expectInvalidToken(
      await call("POST", `/api/events/${event.id}/join`, gone, undefined, { "idempotency-key": "k-1" }),
    );
    expectInvalidToken(await call("POST", "/api/events", gone, eventBody(t), { "idempotency-key": "k-2" }));
    expectInvalidToken(await call("PATCH", "/api/me", gone, { name: "Ghost" }, { "idempotency-key": "k-3" }));
    const participations = await t.deps.db
      .selectFrom("participations")
      .select("user_id")
      .where("user_id", "=", gone.user.id)
      .execute();
    expect(participations).toEqual([]);
    const events = await t.deps.db
      .selectFrom("events")
      .select("id")
      .where("organizer_id", "=", gone.user.id)
      .execute();
    expect(events).toEqual([]);
    const stats = await call("GET", `/api/events/${event.id}/stats`);
    expect(stats.json()).toMatchObject({ confirmed: 0, waitlisted: 0 });
  });

  it("is refused even by an instance that never saw the user", async () => {
    const gone = await createUser(t);
    await sql`DELETE FROM users WHERE id = ${gone.user.id}`.execute(t.deps.db);
    expectInvalidToken(await onSecond("/api/me", gone));
  });
});

describe("many unknown users at once", () => {
  it("are each answered with their own standing", async () => {
    const people = await Promise.all(Array.from({ length: 30 }, () => createUser(t)));
    const gone = people.slice(0, 10);
    for (const person of gone) {
      await sql`DELETE FROM users WHERE id = ${person.user.id}`.execute(t.deps.db);
    }
    const answers = await Promise.all(people.map((person) => onSecond("/api/me", person)));
    expect(answers.map((answer) => answer.statusCode)).toEqual([
      ...Array<number>(10).fill(401),
      ...Array<number>(20).fill(200),
    ]);
    expect(answers.slice(10).map((answer) => answer.json<{ id: string }>().id)).toEqual(
      people.slice(10).map((person) => person.user.id),
    );
  });
});

describe("the listening session", () => {
  it("when lost, nothing remembered is trusted: a change made meanwhile holds once it is back", async () => {
    const moderator = await createUser(t, { role: "moderator" });
    const event = await createPublished(t, organizer);
    const url = `/api/events/${event.id}/participants?status=confirmed`;
    expect((await onSecond(url, moderator)).statusCode).toBe(200);
    const ended = await sql<{ ended: boolean }>`
      SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'turnout-current-users'
    `.execute(t.deps.db);
    expect(ended.rows.length).toBeGreaterThanOrEqual(2);
    // Nobody listens now: this change's notification reaches no instance.
    await sql`UPDATE users SET role = 'user' WHERE id = ${moderator.user.id}`.execute(t.deps.db);
    await second.app.currentUsers.settle();
    const there = await onSecond(url, moderator);
    expect([there.statusCode, errorCode(there)]).toEqual([403, "auth.forbidden"]);
    await t.app.currentUsers.settle();
    const listeners = await sql<{ count: number }>`
      SELECT count(*)::int AS count FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'turnout-current-users'
    `.execute(t.deps.db);
    expect(listeners.rows[0]?.count).toBe(2);
  });
});
