import type { Announcement, Notification, NotificationKind } from "@turnout/contracts";
import type { Executor, Trx } from "../../platform/db.ts";

// Kysely only: the announcements and notifications tables (this module owns both).

export async function insertAnnouncement(
  trx: Trx,
  announcement: Announcement & { authorId: string },
): Promise<void> {
  await trx
    .insertInto("announcements")
    .values({
      id: announcement.id,
      event_id: announcement.eventId,
      author_id: announcement.authorId,
      message: announcement.message,
      created_at: new Date(announcement.createdAt),
    })
    .execute();
}

/** An event's announcements, newest first, before `beforeId` when given. */
export async function listAnnouncements(
  db: Executor,
  eventId: string,
  page: { beforeId: string | undefined; limit: number },
): Promise<Announcement[]> {
  let query = db
    .selectFrom("announcements")
    .select(["id", "event_id", "message", "created_at"])
    .where("event_id", "=", eventId)
    .orderBy("id", "desc")
    .limit(page.limit);
  if (page.beforeId !== undefined) query = query.where("id", "<", page.beforeId);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    eventId: row.event_id,
    message: row.message,
    createdAt: row.created_at.toISOString(),
  }));
}

export interface NewNotification {
  id: string;
  userId: string;
  kind: NotificationKind;
  eventId: string | null;
  title: string;
  body: string;
  /** The trigger it came from; a second one from the same trigger for the same person is not inserted. */
  source: string;
  createdAt: Date;
}

/** Inserts the notifications not inserted before (by person and source); the ones inserted now. */
export async function insertNotifications(
  trx: Trx,
  notifications: readonly NewNotification[],
): Promise<(Notification & { userId: string })[]> {
  if (notifications.length === 0) return [];
  const rows = await trx
    .insertInto("notifications")
    .values(
      notifications.map((notification) => ({
        id: notification.id,
        user_id: notification.userId,
        kind: notification.kind,
        event_id: notification.eventId,
        title: notification.title,
        body: notification.body,
        source: notification.source,
        created_at: notification.createdAt,
      })),
    )
    .onConflict((conflict) => conflict.columns(["user_id", "source"]).doNothing())
    .returning(["id", "user_id", "kind", "event_id", "title", "body", "created_at", "read_at"])
    .execute();
  return rows.map((row) => ({ ...toNotification(row), userId: row.user_id }));
}

interface NotificationRow {
  id: string;
  kind: NotificationKind;
  event_id: string | null;
  title: string;
  body: string;
  created_at: Date;
  read_at: Date | null;
}

function toNotification(row: NotificationRow): Notification {
  return {
    id: row.id,
    kind: row.kind,
    eventId: row.event_id,
    title: row.title,
    body: row.body,
    createdAt: row.created_at.toISOString(),
    readAt: row.read_at?.toISOString() ?? null,
  };
}

/** A person's notifications, newest first, before `beforeId` when given; only unread ones if asked. */
export async function listNotifications(
  db: Executor,
  userId: string,
  page: { beforeId: string | undefined; limit: number; isUnreadOnly: boolean },
): Promise<Notification[]> {
  let query = db
    .selectFrom("notifications")
    .select(["id", "kind", "event_id", "title", "body", "created_at", "read_at"])
    .where("user_id", "=", userId)
    .orderBy("id", "desc")
    .limit(page.limit);
  if (page.beforeId !== undefined) query = query.where("id", "<", page.beforeId);
  if (page.isUnreadOnly) query = query.where("read_at", "is", null);
  const rows = await query.execute();
  return rows.map(toNotification);
}

/** Marks a person's unread notifications read (these ids, or all); how many changed. */
export async function markRead(
  db: Executor,
  userId: string,
  ids: readonly string[] | undefined,
  at: Date,
): Promise<number> {
  let query = db
    .updateTable("notifications")
    .set({ read_at: at })
    .where("user_id", "=", userId)
    .where("read_at", "is", null);
  if (ids !== undefined) query = query.where("id", "in", ids);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
