import { eventPageSchema } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../test/app.ts";
import { DEMO_PASSWORD, DEMO_PEOPLE } from "./demo-data.ts";
import { seedDemo } from "./demo-seeder.ts";

// `npm run seed` writes through the real services: a living feed, accounts one can sign in to, no repeats.

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function count(table: "users" | "events" | "participations"): Promise<number> {
  const rows = await t.deps.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .execute();
  return rows[0]?.n ?? 0;
}

describe("demo seed", () => {
  it("fills an empty instance once: people, a feed of upcoming events, joins; the second run skips", async () => {
    const first = await seedDemo(t.deps);
    expect(first).toMatchObject({ skipped: false, users: DEMO_PEOPLE.length, events: 150 });
    expect(first.joins).toBeGreaterThan(100);
    expect(await count("users")).toBe(DEMO_PEOPLE.length);
    expect(await count("events")).toBe(150);
    expect(await count("participations")).toBe(first.joins);

    const feed = eventPageSchema.parse((await t.app.inject({ url: "/api/events?limit=100" })).json());
    expect(feed.items.length).toBe(100);
    expect(feed.nextCursor).not.toBeNull();
    expect(new Set(feed.items.map((event) => event.category)).size).toBe(11);
    expect(feed.items.some((event) => event.stats.confirmed > 0)).toBe(true);

    const login = await t.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { email: DEMO_PEOPLE[1]?.email, password: DEMO_PASSWORD },
    });
    expect(login.statusCode).toBe(200);

    expect(await seedDemo(t.deps)).toEqual({ skipped: true, users: 0, events: 0, joins: 0 });
    expect(await count("events")).toBe(150);
  });
});
