import { z } from "zod";

/*
 * Which channels each domain message reaches (API.md "Real time"). Modules that are not built yet
 * (announcements, photos, notifications, analytics) only have to write their message to the outbox with the
 * data shape API.md gives: the route is already here. A type not listed reaches no channel.
 */

const id = z.uuid();
const eventMessage = z.object({ event: z.object({ id, visibility: z.string() }) });
const byEventId = z.object({ eventId: id });
const byUserId = z.object({ userId: id });

type Route = (data: unknown) => string[];

// Public events go on the discovery channel; unlisted ones only to those who hold their id.
const eventLifecycle: Route = (data) => {
  const { event } = eventMessage.parse(data);
  return event.visibility === "public" ? ["events", `event:${event.id}`] : [`event:${event.id}`];
};

const ROUTES: Record<string, Route> = {
  "event.published.v1": eventLifecycle,
  "event.updated.v1": eventLifecycle,
  "event.cancelled.v1": eventLifecycle,
  "stats.changed.v1": (data) => [`event:${byEventId.parse(data).eventId}`],
  "announcement.posted.v1": (data) => [
    `event:${z.object({ announcement: byEventId }).parse(data).announcement.eventId}`,
  ],
  "photo.added.v1": (data) => [`event:${z.object({ photo: byEventId }).parse(data).photo.eventId}`],
  "photo.removed.v1": (data) => [`event:${byEventId.parse(data).eventId}`],
  "participation.changed.v1": (data) => [`user:${byUserId.parse(data).userId}`],
  "notification.created.v1": (data) => [
    `user:${z.object({ notification: byUserId }).parse(data).notification.userId}`,
  ],
  "analytics.tick.v1": (data) => [`dashboard:${byEventId.parse(data).eventId}`],
};

/** The channels a domain message of `type` goes to; none for an unknown type or data without the ids. */
export function routeToChannels(type: string, data: unknown): string[] {
  const route = ROUTES[type];
  if (route === undefined) return [];
  try {
    return route(data);
  } catch {
    return [];
  }
}

/** Whether a message type is a snapshot that a later one of the same type on the channel replaces. */
export function isCoalescable(type: string): boolean {
  return type === "stats.changed.v1" || type === "analytics.tick.v1";
}
