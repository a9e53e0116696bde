import {
  NOTIFICATION_DOMAIN_EVENTS,
  type Announcement,
  type AnnouncementBody,
  type AnnouncementListQuery,
  type AnnouncementPage,
  type AnnouncementPostedData,
  type Event,
  type MarkReadBody,
  type NotificationCreatedData,
  type NotificationListQuery,
  type NotificationPage,
} from "@turnout/contracts";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import type { Trx } from "../../platform/db.ts";
import { readCursor, writeCursor } from "../../platform/cursor.ts";
import { AppError } from "../../platform/errors.ts";
import { appendOutbox, appendOutboxMany } from "../../platform/outbox/outbox.ts";
import type { AuthUser } from "../auth/index.ts";
import { queueMails, type MailParams } from "../mail/index.ts";
import { canManageEvent, canSeeEvent, findEventsByIds } from "../events/index.ts";
import type { NotificationsContext } from "./notifications-context.ts";
import * as repo from "./notifications.repo.ts";

const pageCursorSchema = z.object({ before: z.uuid() });
const ownable = (event: Event) => ({ status: event.status, organizerId: event.organizer.id });

async function findVisibleEvent(
  ctx: NotificationsContext,
  actor: AuthUser | null,
  id: string,
): Promise<Event> {
  const event = (await findEventsByIds(ctx, [id])).get(id);
  if (event === undefined || !canSeeEvent(actor, ownable(event))) {
    throw new AppError("event.not_found", "No such event.");
  }
  return event;
}

/** Posts an announcement (organizer, moderators+): stored with `announcement.posted.v1` in one transaction. */
export async function postAnnouncement(
  ctx: NotificationsContext,
  actor: AuthUser,
  eventId: string,
  body: AnnouncementBody,
): Promise<Announcement> {
  const event = await findVisibleEvent(ctx, actor, eventId);
  if (!canManageEvent(actor, ownable(event))) {
    throw new AppError("auth.forbidden", "Only the organizer may post announcements.");
  }
  const announcement: Announcement = {
    id: uuidv7(),
    eventId,
    message: body.message,
    createdAt: ctx.clock.now().toISOString(),
  };
  await ctx.db.transaction().execute(async (trx) => {
    await repo.insertAnnouncement(trx, { ...announcement, authorId: actor.id });
    const data: AnnouncementPostedData = { announcement };
    await appendOutbox(trx, {
      aggregateType: "event",
      aggregateId: eventId,
      type: NOTIFICATION_DOMAIN_EVENTS.announcementPosted,
      data,
    });
  });
  return announcement;
}

/** An event's announcements, newest first, for anyone who may see the event. */
export async function listAnnouncements(
  ctx: NotificationsContext,
  actor: AuthUser | null,
  eventId: string,
  query: AnnouncementListQuery,
): Promise<AnnouncementPage> {
  await findVisibleEvent(ctx, actor, eventId);
  const beforeId = query.cursor === undefined ? undefined : readCursor(query.cursor, pageCursorSchema).before;
  const rows = await repo.listAnnouncements(ctx.db, eventId, { beforeId, limit: query.limit + 1 });
  return pageOf(rows, query.limit);
}

/** The caller's notifications, newest first; only unread ones with `unread=true`. */
export async function listNotifications(
  ctx: NotificationsContext,
  actor: AuthUser,
  query: NotificationListQuery,
): Promise<NotificationPage> {
  const beforeId = query.cursor === undefined ? undefined : readCursor(query.cursor, pageCursorSchema).before;
  const rows = await repo.listNotifications(ctx.db, actor.id, {
    beforeId,
    limit: query.limit + 1,
    isUnreadOnly: query.unread === "true",
  });
  return pageOf(rows, query.limit);
}

/** Marks the caller's notifications read (these ids, or all); how many changed. */
export async function markNotificationsRead(
  ctx: NotificationsContext,
  actor: AuthUser,
  body: MarkReadBody,
): Promise<{ marked: number }> {
  return { marked: await repo.markRead(ctx.db, actor.id, body.ids, ctx.clock.now()) };
}

function pageOf<T extends { id: string }>(
  rows: T[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last !== undefined ? writeCursor({ before: last.id }) : null,
  };
}

/**
 * Leaves one notification per person for one trigger (`source`), in the caller's transaction, each with its
 * `notification.created.v1` for the person's channel and a mail (if the person's preferences allow it, ADR
 * 0022). People notified from this source before are skipped; how many were notified now.
 */
export async function notifyPeople(
  ctx: NotificationsContext,
  trx: Trx,
  userIds: readonly string[],
  notice: Omit<repo.NewNotification, "id" | "userId" | "createdAt">,
  mail: MailParams,
): Promise<number> {
  const createdAt = ctx.clock.now();
  const inserted = await repo.insertNotifications(
    trx,
    userIds.map((userId) => ({ ...notice, id: uuidv7(), userId, createdAt })),
  );
  await appendOutboxMany(
    trx,
    inserted.map(({ userId, ...notification }) => {
      const data: NotificationCreatedData = { userId, notification };
      return {
        aggregateType: "user",
        aggregateId: userId,
        type: NOTIFICATION_DOMAIN_EVENTS.notificationCreated,
        data,
      };
    }),
  );
  await queueMails(
    ctx,
    trx,
    inserted.map(({ userId }) => ({
      userId,
      kind: notice.kind,
      key: `${notice.source}:${userId}`,
      params: mail,
    })),
  );
  return inserted.length;
}

/** What a mail says about `event`: its title, and its start and place for the kinds that show them. */
export function mailParamsOf(event: Event | undefined, eventId: string): MailParams {
  if (event === undefined) return { eventId, eventTitle: "an event" };
  const place = event.venue === null ? event.onlineUrl : [event.venue.name, event.venue.address].join(", ");
  return {
    eventId,
    eventTitle: event.title,
    startsAt: event.startsAt,
    timezone: event.timezone,
    venue: place,
  };
}
