import { findEventsByIds, listEventsStartingBetween } from "../events/index.ts";
import { listParticipantIds } from "../participation/index.ts";
import type { NotificationsContext } from "./notifications-context.ts";
import { mailParamsOf, notifyPeople } from "./notifications.service.ts";

/*
 * notifications.reminders: every 5 minutes, the confirmed participants of each published event starting
 * within the next 24 hours get a reminder. The source names the event and its start, so each person gets one
 * per start time however often the job runs (and a new one if the event moves).
 */

export const REMINDERS_CRON = "*/5 * * * *";
const REMINDER_AHEAD_MS = 24 * 60 * 60 * 1000;

/** Runs one pass; how many reminders it created. */
export async function sendDueReminders(ctx: NotificationsContext): Promise<number> {
  const now = ctx.clock.now();
  const events = await listEventsStartingBetween(ctx.db, now, new Date(now.getTime() + REMINDER_AHEAD_MS));
  // The full events, for what their mails show (time zone, place).
  const details = await findEventsByIds(
    ctx,
    events.map((event) => event.id),
  );
  let created = 0;
  for (const event of events) {
    created += await ctx.db.transaction().execute(async (trx) => {
      const people = await listParticipantIds(trx, event.id, ["confirmed"]);
      return notifyPeople(
        ctx,
        trx,
        people,
        {
          kind: "reminder",
          eventId: event.id,
          title: `Tomorrow: ${event.title}`,
          body: `Starts at ${event.startsAt.toISOString()}.`,
          source: `reminder:${event.id}:${event.startsAt.toISOString()}`,
        },
        mailParamsOf(details.get(event.id), event.id),
      );
    });
  }
  return created;
}

/** Worker role: runs notifications.reminders here and schedules it every 5 minutes. */
export async function startReminders(ctx: NotificationsContext): Promise<void> {
  ctx.jobs.work("notifications.reminders", async () => {
    const created = await sendDueReminders(ctx);
    if (created > 0) ctx.log.info({ created }, "reminders created");
  });
  await ctx.jobs.schedule("notifications.reminders", REMINDERS_CRON, {});
}
