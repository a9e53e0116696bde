import type { MailLocale, MailPreferenceName, MailPreferences, NotificationKind } from "@turnout/contracts";
import type { Executor, Trx } from "../../platform/db.ts";

// Kysely only: mail_preferences and mail_messages (this module owns both); users is read for addresses.

const PREFERENCE_COLUMNS = {
  emailOnJoin: "email_on_join",
  emailOnPromotion: "email_on_promotion",
  emailOnEventChange: "email_on_event_change",
  emailOnAnnouncement: "email_on_announcement",
  emailReminders: "email_reminders",
} as const satisfies Record<MailPreferenceName, string>;

export const DEFAULT_PREFERENCES: MailPreferences = {
  emailOnJoin: true,
  emailOnPromotion: true,
  emailOnEventChange: true,
  emailOnAnnouncement: true,
  emailReminders: true,
  locale: null,
};

interface PreferencesRow {
  user_id: string;
  email_on_join: boolean;
  email_on_promotion: boolean;
  email_on_event_change: boolean;
  email_on_announcement: boolean;
  email_reminders: boolean;
  locale: MailLocale | null;
}

function toPreferences(row: PreferencesRow): MailPreferences {
  return {
    emailOnJoin: row.email_on_join,
    emailOnPromotion: row.email_on_promotion,
    emailOnEventChange: row.email_on_event_change,
    emailOnAnnouncement: row.email_on_announcement,
    emailReminders: row.email_reminders,
    locale: row.locale,
  };
}

/** Each person's preferences (the defaults for people who never set any). */
export async function findPreferences(
  db: Executor,
  userIds: readonly string[],
): Promise<Map<string, MailPreferences>> {
  const found = new Map<string, MailPreferences>();
  if (userIds.length === 0) return found;
  const rows = await db
    .selectFrom("mail_preferences")
    .selectAll()
    .where("user_id", "in", [...new Set(userIds)])
    .execute();
  for (const row of rows) found.set(row.user_id, toPreferences(row));
  for (const id of userIds) if (!found.has(id)) found.set(id, DEFAULT_PREFERENCES);
  return found;
}

/** Writes a person's preferences whole; what is stored now. */
export async function savePreferences(
  db: Executor,
  userId: string,
  preferences: MailPreferences,
  at: Date,
): Promise<MailPreferences> {
  const values = {
    email_on_join: preferences.emailOnJoin,
    email_on_promotion: preferences.emailOnPromotion,
    email_on_event_change: preferences.emailOnEventChange,
    email_on_announcement: preferences.emailOnAnnouncement,
    email_reminders: preferences.emailReminders,
    locale: preferences.locale,
    updated_at: at,
  };
  const row = await db
    .insertInto("mail_preferences")
    .values({ user_id: userId, ...values })
    .onConflict((conflict) => conflict.column("user_id").doUpdateSet(values))
    .returningAll()
    .executeTakeFirstOrThrow();
  return toPreferences(row);
}

/**
 * Sets a person's language if none is stored yet (every other preference as it is, or the defaults);
 * nothing for a person who no longer exists.
 */
export async function setLocaleIfUnknown(trx: Trx, userId: string, locale: MailLocale, at: Date) {
  await trx
    .insertInto("mail_preferences")
    .columns(["user_id", "locale", "updated_at"])
    .expression((eb) =>
      eb
        .selectFrom("users")
        .select((select) => ["id", select.val(locale).as("locale"), select.val(at).as("updated_at")])
        .where("id", "=", userId),
    )
    .onConflict((conflict) =>
      conflict
        .column("user_id")
        .doUpdateSet({ locale, updated_at: at })
        .where("mail_preferences.locale", "is", null),
    )
    .execute();
}

/** Turns one preference off (the unsubscribe link), keeping the others; false when the person is gone. */
export async function switchOff(db: Executor, userId: string, name: MailPreferenceName, at: Date) {
  const column = PREFERENCE_COLUMNS[name];
  // One statement: a person deleted between a check and the insert would fail the foreign key (a 500).
  const result = await db
    .insertInto("mail_preferences")
    .columns(["user_id", column, "updated_at"])
    .expression((eb) =>
      eb
        .selectFrom("users")
        .select((select) => ["id", select.val(false).as(column), select.val(at).as("updated_at")])
        .where("id", "=", userId),
    )
    .onConflict((conflict) => conflict.column("user_id").doUpdateSet({ [column]: false, updated_at: at }))
    .executeTakeFirst();
  return result.numInsertedOrUpdatedRows !== undefined && result.numInsertedOrUpdatedRows > 0n;
}

export interface NewMail {
  id: string;
  key: string;
  userId: string;
  kind: NotificationKind;
  locale: MailLocale;
  params: object;
  createdAt: Date;
}

/** Inserts the mails whose key is new; the ids inserted now (a key seen before inserts nothing). */
export async function insertMails(trx: Trx, mails: readonly NewMail[]): Promise<string[]> {
  if (mails.length === 0) return [];
  const rows = await trx
    .insertInto("mail_messages")
    .values(
      mails.map((mail) => ({
        id: mail.id,
        key: mail.key,
        user_id: mail.userId,
        kind: mail.kind,
        locale: mail.locale,
        params: JSON.stringify(mail.params),
        created_at: mail.createdAt,
      })),
    )
    .onConflict((conflict) => conflict.column("key").doNothing())
    .returning("id")
    .execute();
  return rows.map((row) => row.id);
}

/** The mail, locked until the transaction ends, while it is still pending; undefined otherwise. */
export async function lockPendingMail(trx: Trx, id: string) {
  return trx
    .selectFrom("mail_messages")
    .select(["id", "user_id", "kind", "locale", "params", "created_at"])
    .where("id", "=", id)
    .where("status", "=", "pending")
    .forUpdate()
    .executeTakeFirst();
}

export async function markMail(
  trx: Trx,
  id: string,
  outcome: { status: "sent" | "skipped"; to: string | null; subject: string | null; at: Date },
): Promise<void> {
  await trx
    .updateTable("mail_messages")
    .set({ status: outcome.status, to_address: outcome.to, subject: outcome.subject, sent_at: outcome.at })
    .where("id", "=", id)
    .execute();
}

/** The address and name of a person (read from auth's users: the one column no view publishes). */
export async function findRecipient(db: Executor, userId: string) {
  return db.selectFrom("users").select(["email", "name"]).where("id", "=", userId).executeTakeFirst();
}

/** Mails newest first, before `beforeId` when given. */
export async function listMails(db: Executor, page: { beforeId: string | undefined; limit: number }) {
  let query = db
    .selectFrom("mail_messages")
    .select(["id", "kind", "user_id", "to_address", "subject", "locale", "status", "created_at", "sent_at"])
    .orderBy("id", "desc")
    .limit(page.limit);
  if (page.beforeId !== undefined) query = query.where("id", "<", page.beforeId);
  return query.execute();
}

export async function findMailStatus(db: Executor, id: string) {
  return db.selectFrom("mail_messages").select(["status"]).where("id", "=", id).executeTakeFirst();
}
