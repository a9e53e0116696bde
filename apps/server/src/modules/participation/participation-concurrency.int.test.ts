import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createUser, createUsersFast, type CreatedUser } from "../../../test/factories.ts";
import { createPublished } from "../../../test/events.support.ts";
import {
  countStatuses,
  expectFairCrowd,
  listen,
  participationsOf,
  sendAll,
} from "../../../test/participation-load.support.ts";
import { countersAndLists, expectConsistent } from "../../../test/participation.support.ts";

// Flash crowds with real concurrency: every request is on the wire before the first answer comes back.

let t: TestApp;
let baseUrl: string;
let organizer: CreatedUser;

beforeAll(async () => {
  t = await createTestApp({ env: { RATE_LIMIT_REQUESTS: "0" } });
  baseUrl = await listen(t);
  organizer = await createUser(t);
});
afterAll(() => t.close());

const joinsOf = (eventId: string, tokens: readonly string[]) =>
  tokens.map((token) => ({ method: "POST" as const, path: `/api/events/${eventId}/join`, token }));

describe("crowds on one event", () => {
  it("capacity 10, no waitlist, 50 users at once: exactly 10 seats, 40 event.full", async () => {
    const event = await createPublished(t, organizer, { capacity: 10, waitlistLimit: 0 });
    const crowd = await createUsersFast(t, 50);
    const answers = await sendAll(
      [baseUrl],
      joinsOf(
        event.id,
        crowd.map((user) => user.accessToken),
      ),
    );
    expect(countStatuses(answers)).toEqual({ 201: 10, 409: 40 });
    expect(participationsOf(answers, 201).every((place) => place.status === "confirmed")).toBe(true);
    expect(await expectConsistent(t, event.id)).toMatchObject({ counters: { confirmed: 10, waitlisted: 0 } });
  });

  it("one user joining 30 times at once holds one place: one 201 and 29 x 200 with the same participation", async () => {
    const event = await createPublished(t, organizer, { capacity: 5 });
    const [user] = await createUsersFast(t, 1);
    if (user === undefined) throw new Error("no user");
    const answers = await sendAll([baseUrl], joinsOf(event.id, Array(30).fill(user.accessToken)));
    expect(countStatuses(answers)).toEqual({ 200: 29, 201: 1 });
    const first = participationsOf(answers, 201)[0];
    expect(
      participationsOf(answers, 200).every((place) => JSON.stringify(place) === JSON.stringify(first)),
    ).toBe(true);
    const { rows } = await expectConsistent(t, event.id).then(() => countersAndLists(t, event.id));
    expect(rows).toHaveLength(1);
  });

  it("a cancel racing 10 joins on a full event: the seat goes to the waitlist head, at most one newcomer takes the freed place", async () => {
    const event = await createPublished(t, organizer, { capacity: 5, waitlistLimit: 5 });
    const [canceller, ...others] = await createUsersFast(t, 10);
    if (canceller === undefined) throw new Error("no user");
    const first = await sendAll([baseUrl], joinsOf(event.id, [canceller.accessToken]));
    expect(first[0]?.status).toBe(201);
    for (const user of others) await sendAll([baseUrl], joinsOf(event.id, [user.accessToken]));
    const before = await countersAndLists(t, event.id);
    expect(before.counters).toMatchObject({ confirmed: 5, waitlisted: 5 });
    const head = before.lists.waitlisted[0];

    const newcomers = await createUsersFast(t, 10);
    const race = [
      { method: "DELETE" as const, path: `/api/events/${event.id}/join`, token: canceller.accessToken },
      ...joinsOf(
        event.id,
        newcomers.map((user) => user.accessToken),
      ),
    ];
    const answers = await sendAll([baseUrl], race);
    expect(answers[0]?.status).toBe(200);
    const after = await expectConsistent(t, event.id);
    expect(after.lists.confirmed).toContain(head);
    expect(after.lists.confirmed).not.toContain(canceller.user.id);
    // The cancel is sent first, but joins are decided in batches on the same locked row: either the cancel
    // commits first and one newcomer takes the freed waitlist place, or every join is decided (and refused)
    // before it, and the waitlist is one shorter. Nothing else is allowed.
    const statuses = countStatuses(answers.slice(1));
    if (statuses[201] === undefined) {
      expect(statuses).toEqual({ 409: 10 });
      expect(after.counters).toMatchObject({ confirmed: 5, waitlisted: 4 });
      return;
    }
    expect(statuses).toEqual({ 201: 1, 409: 9 });
    expect(after.counters).toMatchObject({ confirmed: 5, waitlisted: 5 });
    const winner = participationsOf(answers.slice(1), 201)[0];
    expect(winner).toMatchObject({ status: "waitlisted", waitlistPosition: 5 });
    expect(after.lists.waitlisted.at(-1)).toBe(winner?.userId);
  });

  it("1,500 users at once on capacity 100 + waitlist 100: 100 seats, 100 in line in order, the rest event.full", async () => {
    const event = await createPublished(t, organizer, { capacity: 100, waitlistLimit: 100 });
    const crowd = await createUsersFast(t, 1_500);
    const startedAt = performance.now();
    const answers = await sendAll(
      [baseUrl],
      joinsOf(
        event.id,
        crowd.map((user) => user.accessToken),
      ),
    );
    console.log(`1,500 joins at once answered in ${Math.round(performance.now() - startedAt)} ms`);
    expectFairCrowd(answers, await expectConsistent(t, event.id));
  });
});
