import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createPublished } from "../../../test/events.support.ts";
import { createUser, createUsersFast } from "../../../test/factories.ts";
import { createDb, type DbHandle } from "../../platform/db.ts";
import { createAdmissionQueue } from "./admission.ts";

// The admission queue's pipeline (ADR 0005): a batch's joiners are answered only after the next batch's call
// has left for the database, so writing a thousand answers never holds back the batch behind them.

let t: TestApp;
let own: DbHandle;

beforeAll(async () => {
  t = await createTestApp();
  own = createDb(t.database.url, 2);
});
afterAll(async () => {
  await own.close();
  await t.close();
});

it("sends the next batch before answering the one just decided", async () => {
  const organizer = await createUser(t);
  const event = await createPublished(t, organizer, { capacity: 5_000 });
  // One more than a batch holds: 1,000 in the first batch, 1 left for the second.
  const crowd = await createUsersFast(t, 1_001);
  const queue = createAdmissionQueue({ db: own.db, clock: t.deps.clock, metrics: t.deps.metrics });
  let answered = 0;
  const answeredWhenSessionTaken: number[] = [];
  own.pool.on("acquire", () => answeredWhenSessionTaken.push(answered));
  const outcomes = await Promise.all(
    crowd.map(({ user }) =>
      queue.join(event.id, user.id).then((outcome) => {
        answered++;
        return outcome;
      }),
    ),
  );
  expect(outcomes.every((outcome) => outcome.isNew && outcome.participation.status === "confirmed")).toBe(
    true,
  );
  // Two batches, each given its session while nobody of the first had been answered yet.
  expect(answeredWhenSessionTaken).toEqual([0, 0]);
});
