import { participationChangedDataSchema } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createUser, type CreatedUser } from "../../../test/factories.ts";
import { startWorkerRole } from "../../roles/worker.ts";
import { createCall, createPublished } from "../../../test/events.support.ts";
import { expectConsistent, participationOf } from "../../../test/participation.support.ts";

// Cancelling an event reaches every participation through the outbox, the bus and the worker's consumer.

let t: TestApp;
let worker: Awaited<ReturnType<typeof startWorkerRole>>;
let organizer: CreatedUser;
const call = createCall(() => t);

beforeAll(async () => {
  t = await createTestApp({ env: { OUTBOX_POLL_MS: "100" } });
  worker = await startWorkerRole(t.deps);
  organizer = await createUser(t);
});
afterAll(async () => {
  await worker.stop();
  await t.close();
});

async function waitFor(what: string, isDone: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await isDone())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("event cancelled", () => {
  it("moves confirmed and waitlisted people to event_cancelled, tells each once, zeroes the stats", async () => {
    const event = await createPublished(t, organizer, { capacity: 2 });
    const people = await Promise.all(Array.from({ length: 4 }, () => createUser(t)));
    for (const person of people) await call("POST", `/api/events/${event.id}/join`, person);
    const leaver = people[3];
    if (leaver === undefined) throw new Error("no user");
    await call("DELETE", `/api/events/${event.id}/join`, leaver);

    const cancelled = await call("POST", `/api/events/${event.id}/cancel`, organizer, { reason: "Storm" });
    expect(cancelled.statusCode).toBe(200);
    await waitFor("stats at zero", async () => {
      const stats = await call("GET", `/api/events/${event.id}/stats`);
      return stats.json<{ confirmed: number }>().confirmed === 0;
    });
    expect((await call("GET", `/api/events/${event.id}/stats`)).json()).toEqual({
      capacity: 2,
      confirmed: 0,
      waitlisted: 0,
      checkedIn: 0,
    });
    const statuses = [];
    for (const person of people) {
      statuses.push(
        participationOf(await call("GET", `/api/events/${event.id}/participation`, person)).status,
      );
    }
    expect(statuses).toEqual(["event_cancelled", "event_cancelled", "event_cancelled", "cancelled"]);

    const notices = await t.deps.db
      .selectFrom("outbox")
      .select("payload")
      .where("aggregate_id", "=", event.id)
      .where("type", "=", "participation.changed.v1")
      .execute();
    const told = notices
      .map((row) => participationChangedDataSchema.parse(row.payload))
      .filter((data) => data.cause === "event_cancelled")
      .map((data) => data.userId)
      .sort();
    expect(told).toEqual(
      people
        .slice(0, 3)
        .map((person) => person.user.id)
        .sort(),
    );
    await expectConsistent(t, event.id);
  });
});
