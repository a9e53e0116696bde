import {
  announcementPostedDataSchema,
  AUTH_DOMAIN_EVENTS,
  EVENT_DOMAIN_EVENTS,
  eventUpdatedDataSchema,
  NOTIFICATION_DOMAIN_EVENTS,
  PARTICIPATION_DOMAIN_EVENTS,
  participationChangedDataSchema,
  type DomainEvent,
  type Event,
  type NotificationKind,
  userRegisteredDataSchema,
} from "@turnout/contracts";
import type { Subscription } from "../../platform/bus/bus.ts";
import type { Trx } from "../../platform/db.ts";
import { consumeDomainEvents, type DomainConsumerOptions } from "../../platform/outbox/inbox.ts";
import { findEventsByIds } from "../events/index.ts";
import { recordSignUpLanguage } from "../mail/index.ts";
import { listParticipantIds } from "../participation/index.ts";
import type { NotificationsContext } from "./notifications-context.ts";
import { mailParamsOf, notifyPeople } from "./notifications.service.ts";

/*
 * The triggers of API.md "Announcements and notifications", each turned into one notification per person it
 * concerns: joins confirmed, promotions, cancellations (from `participation.changed.v1`, one per person),
 * time or place changes (`event.updated.v1`, to confirmed and waitlisted people) and announcements (to
 * confirmed people). The inbox applies each message once; the notifications' (person, source) key keeps one
 * per person even if a trigger were applied twice. A sign-up (`user.registered.v1`) hands the browser's
 * language to mail before that person's first mail can be queued.
 */

export const NOTIFICATION_TRIGGERS_CONSUMER = "notifications-triggers";

// What moves an event in time or space; other edits (title, description, capacity) notify nobody.
const TIME_OR_PLACE = new Set(["startsAt", "endsAt", "timezone", "venue", "onlineUrl"]);

/** Binds the consumer that turns domain events into notifications. */
export function consumeNotificationTriggers(
  ctx: NotificationsContext,
  options: Pick<DomainConsumerOptions, "stream"> = {},
): Promise<Subscription> {
  return consumeDomainEvents(
    ctx,
    { name: NOTIFICATION_TRIGGERS_CONSUMER, stream: options.stream },
    (event, trx) => applyTrigger(ctx, event, trx),
  );
}

async function applyTrigger(ctx: NotificationsContext, message: DomainEvent, trx: Trx): Promise<void> {
  const source = `outbox:${message.id}`;
  switch (message.type) {
    case NOTIFICATION_DOMAIN_EVENTS.announcementPosted: {
      const { announcement } = announcementPostedDataSchema.parse(message.data);
      const event = await findEvent(ctx, announcement.eventId);
      const people = await listParticipantIds(trx, announcement.eventId, ["confirmed"]);
      await notifyPeople(
        ctx,
        trx,
        people,
        {
          kind: "announcement",
          eventId: announcement.eventId,
          title: `New announcement: ${event?.title ?? "an event"}`,
          body: announcement.message,
          source: `announcement:${announcement.id}`,
        },
        { ...mailParamsOf(event, announcement.eventId), message: announcement.message },
      );
      return;
    }
    case PARTICIPATION_DOMAIN_EVENTS.participationChanged: {
      const change = participationChangedDataSchema.parse(message.data);
      const kind = participationKind(change.cause, change.status);
      if (kind === null) return;
      const event = await findEvent(ctx, change.eventId);
      await notifyPeople(
        ctx,
        trx,
        [change.userId],
        { kind, eventId: change.eventId, source, ...texts(kind, event?.title ?? "an event") },
        mailParamsOf(event, change.eventId),
      );
      return;
    }
    case EVENT_DOMAIN_EVENTS.updated: {
      const { event, changedFields } = eventUpdatedDataSchema.parse(message.data);
      if (!changedFields.some((field) => TIME_OR_PLACE.has(field))) return;
      const people = await listParticipantIds(trx, event.id, ["confirmed", "waitlisted"]);
      await notifyPeople(
        ctx,
        trx,
        people,
        { kind: "event.changed", eventId: event.id, source, ...texts("event.changed", event.title) },
        mailParamsOf(event, event.id),
      );
      return;
    }
    case AUTH_DOMAIN_EVENTS.userRegistered: {
      // The sign-up's language goes to mail here, in this consumer's order, so it is stored before any mail
      // of that person is queued (a consumer of mail's own would run beside this one, in no order with it).
      await recordSignUpLanguage(ctx, trx, userRegisteredDataSchema.parse(message.data));
      return;
    }
    default:
      return;
  }
}

function participationKind(cause: string, status: string): NotificationKind | null {
  if (cause === "joined" && status === "confirmed") return "participation.confirmed";
  if (cause === "promoted" && status === "confirmed") return "participation.promoted";
  if (cause === "event_cancelled") return "event.cancelled";
  return null;
}

function texts(kind: NotificationKind, eventTitle: string): { title: string; body: string } {
  switch (kind) {
    case "participation.confirmed":
      return { title: `You're in: ${eventTitle}`, body: "Your place is confirmed." };
    case "participation.promoted":
      return { title: `A seat opened up: ${eventTitle}`, body: "You moved from the waitlist to confirmed." };
    case "event.changed":
      return { title: `Changed: ${eventTitle}`, body: "The time or place of this event changed." };
    case "event.cancelled":
      return { title: `Cancelled: ${eventTitle}`, body: "The organizer cancelled this event." };
    case "reminder":
      return { title: `Tomorrow: ${eventTitle}`, body: "This event starts in 24 hours." };
    case "announcement":
      return { title: `New announcement: ${eventTitle}`, body: "" };
  }
}

async function findEvent(ctx: NotificationsContext, eventId: string): Promise<Event | undefined> {
  return (await findEventsByIds(ctx, [eventId])).get(eventId);
}
