import { z } from "zod";
import { cursorSchema, limitSchema } from "./events.ts";

/*
 * Announcements and notifications (API.md "Announcements and notifications"): what organizers post to their
 * event, and the in-app notifications each trigger leaves for each person it concerns.
 */

export const announcementSchema = z.object({
  id: z.uuid(),
  eventId: z.uuid(),
  message: z.string(),
  createdAt: z.iso.datetime(),
});
export type Announcement = z.infer<typeof announcementSchema>;

export const announcementPageSchema = z.object({
  items: z.array(announcementSchema),
  nextCursor: z.string().nullable(),
});
export type AnnouncementPage = z.infer<typeof announcementPageSchema>;

export const announcementBodySchema = z.object({ message: z.string().trim().min(1).max(2000) });
export type AnnouncementBody = z.infer<typeof announcementBodySchema>;

export const announcementListQuerySchema = z.object({ cursor: cursorSchema.optional(), limit: limitSchema });
export type AnnouncementListQuery = z.infer<typeof announcementListQuerySchema>;

export const NOTIFICATION_KINDS = [
  "participation.confirmed",
  "participation.promoted",
  "event.changed",
  "event.cancelled",
  "announcement",
  "reminder",
] as const;
export const notificationKindSchema = z.enum(NOTIFICATION_KINDS);
export type NotificationKind = z.infer<typeof notificationKindSchema>;

export const notificationSchema = z.object({
  id: z.uuid(),
  kind: notificationKindSchema,
  eventId: z.uuid().nullable(),
  title: z.string(),
  body: z.string(),
  createdAt: z.iso.datetime(),
  readAt: z.iso.datetime().nullable(),
});
export type Notification = z.infer<typeof notificationSchema>;

export const notificationPageSchema = z.object({
  items: z.array(notificationSchema),
  nextCursor: z.string().nullable(),
});
export type NotificationPage = z.infer<typeof notificationPageSchema>;

export const notificationListQuerySchema = z.object({
  unread: z.enum(["true", "false"]).optional(),
  cursor: cursorSchema.optional(),
  limit: limitSchema,
});
export type NotificationListQuery = z.infer<typeof notificationListQuerySchema>;

/** POST /api/me/notifications/read: these (the caller's own), or all of them when `ids` is left out. */
export const markReadBodySchema = z.object({ ids: z.array(z.uuid()).min(1).max(100).optional() });
export type MarkReadBody = z.infer<typeof markReadBodySchema>;
export const markReadResultSchema = z.object({ marked: z.number().int().min(0) });

export const NOTIFICATION_DOMAIN_EVENTS = {
  announcementPosted: "announcement.posted.v1",
  notificationCreated: "notification.created.v1",
} as const;

export const announcementPostedDataSchema = z.object({ announcement: announcementSchema });
export type AnnouncementPostedData = z.infer<typeof announcementPostedDataSchema>;
/** Data of `notification.created.v1`, on the person's channel (`user:<userId>`). */
export const notificationCreatedDataSchema = z.object({ userId: z.uuid(), notification: notificationSchema });
export type NotificationCreatedData = z.infer<typeof notificationCreatedDataSchema>;

/** Job payloads of the notifications module (registered in jobs.ts). */
export const notificationJobPayloadSchemas = {
  /** Reminds confirmed participants of events starting within 24 hours; scheduled every 5 minutes. */
  "notifications.reminders": z.object({}),
} as const;
