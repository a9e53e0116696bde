import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { createManualClock } from "../../platform/clock.ts";
import { notificationsOptionsOf } from "../../roles/module-options.ts";
import { sendDueReminders } from "./index.ts";

// The reminder job against the injected clock: confirmed people of an event hear once, within the 24 hours
// before it starts, however often the job runs.

const HOUR = 60 * 60 * 1000;
const clock = createManualClock(new Date());
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ deps: { clock } });
});
afterAll(async () => {
  await t.close();
});

// Read from the table: the clock moves by hours, past the access tokens' 15 minutes.
async function remindersOf(who: CreatedUser) {
  const rows = await t.deps.db
    .selectFrom("notifications")
    .select(["event_id as eventId", "read_at as readAt"])
    .where("user_id", "=", who.user.id)
    .where("kind", "=", "reminder")
    .orderBy("id", "desc")
    .execute();
  return rows;
}

it("reminds confirmed participants once within the 24 hours before the start", async () => {
  const organizer = await createUser(t);
  const soon = await createPublished(t, organizer, { capacity: 1 }, 30);
  const later = await createPublished(t, organizer, {}, 60);
  const [seated, waiting] = [await createUser(t), await createUser(t)];
  for (const event of [soon, later]) {
    for (const who of [seated, waiting]) {
      await t.app.inject({ method: "POST", url: `/api/events/${event.id}/join`, headers: bearer(who) });
    }
  }
  const ctx = notificationsOptionsOf(t.deps);

  expect(await sendDueReminders(ctx)).toBe(0);
  clock.advance(7 * HOUR); // `soon` now starts in 23 hours, `later` in 53
  expect(await sendDueReminders(ctx)).toBe(1);
  expect(await sendDueReminders(ctx)).toBe(0);
  clock.advance(5 * 60 * 1000);
  expect(await sendDueReminders(ctx)).toBe(0);

  const reminders = await remindersOf(seated);
  expect(reminders).toHaveLength(1);
  expect(reminders[0]).toMatchObject({ eventId: soon.id, readAt: null });
  expect(await remindersOf(waiting)).toEqual([]);

  clock.advance(30 * HOUR); // `later` now starts in 23 hours: both of its people are confirmed
  expect(await sendDueReminders(ctx)).toBe(2);
  expect((await remindersOf(seated)).map((item) => item.eventId)).toEqual([later.id, soon.id]);
});
