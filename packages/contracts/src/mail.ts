import { z } from "zod";
import { cursorSchema, limitSchema } from "./events.ts";
import { notificationKindSchema } from "./notifications.ts";

/*
 * E-mail (API.md "Announcements and notifications"): each person's mail preferences and language, the
 * admin's list of mails sent (embedded mode keeps each as an .eml file), and the send job.
 */

/** The languages mails are written in; a person whose language is unknown gets English. */
export const MAIL_LOCALES = ["en", "de"] as const;
export const mailLocaleSchema = z.enum(MAIL_LOCALES);
export type MailLocale = z.infer<typeof mailLocaleSchema>;

/** GET /api/me/preferences: which mails the caller wants (all by default), and their language if known. */
export const mailPreferencesSchema = z.object({
  emailOnJoin: z.boolean(),
  emailOnPromotion: z.boolean(),
  emailOnEventChange: z.boolean(),
  emailOnAnnouncement: z.boolean(),
  emailReminders: z.boolean(),
  locale: mailLocaleSchema.nullable(),
});
export type MailPreferences = z.infer<typeof mailPreferencesSchema>;

/** PUT /api/me/preferences: the five switches; `locale` left out keeps the one stored. */
export const mailPreferencesBodySchema = mailPreferencesSchema.extend({
  locale: mailLocaleSchema.nullable().optional(),
});
export type MailPreferencesBody = z.infer<typeof mailPreferencesBodySchema>;

/** The preference a mail kind answers to (and the one its unsubscribe link turns off). */
export type MailPreferenceName = Exclude<keyof MailPreferences, "locale">;

/** One mail, as an admin sees it in GET /api/admin/mail. */
export const mailMessageSchema = z.object({
  id: z.uuid(),
  kind: notificationKindSchema,
  userId: z.uuid(),
  to: z.string().nullable(),
  subject: z.string().nullable(),
  locale: mailLocaleSchema,
  status: z.enum(["pending", "sent", "skipped"]),
  createdAt: z.iso.datetime(),
  sentAt: z.iso.datetime().nullable(),
  /** The stored .eml (embedded mode, once sent); null when it went out over SMTP or has not left yet. */
  emlUrl: z.string().nullable(),
});
export type MailMessage = z.infer<typeof mailMessageSchema>;

export const mailMessagePageSchema = z.object({
  items: z.array(mailMessageSchema),
  nextCursor: z.string().nullable(),
});
export type MailMessagePage = z.infer<typeof mailMessagePageSchema>;

export const mailListQuerySchema = z.object({ cursor: cursorSchema.optional(), limit: limitSchema });
export type MailListQuery = z.infer<typeof mailListQuerySchema>;
export const mailIdParamsSchema = z.object({ id: z.uuid() });

/** The unsubscribe link's signed token (no login needed). */
export const unsubscribeQuerySchema = z.object({ token: z.string().min(1).max(500) });

/** Job payloads of the mail module (registered in jobs.ts). */
export const mailJobPayloadSchemas = {
  /** Sends one mail (a `mail_messages` row) once; retried with backoff while the SMTP peer refuses. */
  "mail.send": z.object({ mailId: z.uuid() }),
} as const;
