import { readFile } from "node:fs/promises";
import type {
  MailListQuery,
  MailLocale,
  MailMessagePage,
  MailPreferenceName,
  MailPreferences,
  MailPreferencesBody,
  NotificationKind,
} from "@turnout/contracts";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import type { Deps } from "../../deps.ts";
import { readCursor, writeCursor } from "../../platform/cursor.ts";
import type { Trx } from "../../platform/db.ts";
import { AppError } from "../../platform/errors.ts";
import type { SendOptions } from "../../platform/jobs/job-queue.ts";
import type { AuthUser } from "../auth/index.ts";
import type { MailContext } from "./mail-context.ts";
import type { MailParams } from "./mail-templates.ts";
import { emlPathOf } from "./mail-transport.ts";
import * as repo from "./mail.repo.ts";
import { PREFERENCE_OF_KIND, readUnsubscribeToken } from "./unsubscribe-tokens.ts";

// A relay that is down for hours still gets the mail: 12 retries doubling from 2 s span about 4.5 to 9 hours,
// after which the job is dead, listed for an admin to retry (ADR 0003).
// How long one attempt may run is mail.send's kind setting (platform/jobs/job-kinds.ts).
const MAIL_RETRIES: SendOptions = { retryLimit: 12, retryDelaySeconds: 2, retryBackoff: true };

export interface MailToQueue {
  userId: string;
  kind: NotificationKind;
  /** Unique per mail: the same key queued again (a trigger delivered twice) sends nothing more. */
  key: string;
  params: MailParams;
}

/**
 * Queues a mail for each person whose preferences allow its kind, in the caller's transaction: the rows and
 * their `mail.send` jobs exist only if it commits. Keys queued before are skipped; how many were queued.
 */
export async function queueMails(
  ctx: Pick<Deps, "jobs" | "clock">,
  trx: Trx,
  mails: readonly MailToQueue[],
): Promise<number> {
  if (mails.length === 0) return 0;
  const preferences = await repo.findPreferences(
    trx,
    mails.map((mail) => mail.userId),
  );
  const createdAt = ctx.clock.now();
  const wanted = mails.flatMap((mail) => {
    const theirs = preferences.get(mail.userId) ?? repo.DEFAULT_PREFERENCES;
    if (!theirs[PREFERENCE_OF_KIND[mail.kind]]) return [];
    return [{ ...mail, id: uuidv7(), locale: theirs.locale ?? "en", createdAt }];
  });
  const inserted = await repo.insertMails(trx, wanted);
  // One statement for all the jobs (it was a round trip per mail inside the caller's transaction).
  await ctx.jobs.sendMany(
    "mail.send",
    inserted.map((mailId) => ({ mailId })),
    { trx, ...MAIL_RETRIES },
  );
  return inserted.length;
}

/**
 * Records the language a person's browser asked for at sign-up (`user.registered.v1`), in the caller's
 * transaction, unless they already chose one or it is not one mails are written in.
 */
export async function recordSignUpLanguage(
  ctx: Pick<Deps, "clock">,
  trx: Trx,
  signUp: { userId: string; acceptLanguage: string | null },
): Promise<void> {
  const locale = localeOf(signUp.acceptLanguage ?? undefined);
  if (locale !== null) await repo.setLocaleIfUnknown(trx, signUp.userId, locale, ctx.clock.now());
}

/** The caller's mail preferences (every mail, language unknown, until they set them). */
export async function getPreferences(ctx: MailContext, actor: AuthUser): Promise<MailPreferences> {
  return (await repo.findPreferences(ctx.db, [actor.id])).get(actor.id) ?? repo.DEFAULT_PREFERENCES;
}

/**
 * Replaces the caller's preferences. Without `locale`, the stored language stays; when none is stored yet,
 * the request's Accept-Language names it if it is one mails are written in.
 */
export async function putPreferences(
  ctx: MailContext,
  actor: AuthUser,
  body: MailPreferencesBody,
  acceptLanguage: string | undefined,
): Promise<MailPreferences> {
  const stored = await getPreferences(ctx, actor);
  const locale = body.locale === undefined ? (stored.locale ?? localeOf(acceptLanguage)) : body.locale;
  return repo.savePreferences(ctx.db, actor.id, { ...body, locale }, ctx.clock.now());
}

/** The first language of an Accept-Language header that mails are written in; null when none is. */
export function localeOf(acceptLanguage: string | undefined): MailLocale | null {
  if (acceptLanguage === undefined) return null;
  const ranked = acceptLanguage
    .split(",")
    .map((part) => {
      const [tag = "", ...params] = part.trim().split(";");
      const q = params
        .map((param) => /^\s*q=([0-9.]+)\s*$/.exec(param)?.[1])
        .find((value) => value !== undefined);
      return { language: tag.trim().toLowerCase().split("-")[0] ?? "", q: q === undefined ? 1 : Number(q) };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { language } of ranked) {
    if (language === "en" || language === "de") return language;
  }
  return null;
}

function readUnsubscribe(ctx: MailContext, token: string) {
  const read = readUnsubscribeToken(ctx.signingSecret, token);
  if (read === null) throw new AppError("unsubscribe.invalid_token", "This unsubscribe link is not valid.");
  return read;
}

// The person's own language when known, else the browser's, else English.
async function pageLocale(ctx: MailContext, userId: string, acceptLanguage: string | undefined) {
  const stored = (await repo.findPreferences(ctx.db, [userId])).get(userId)?.locale ?? null;
  return stored ?? localeOf(acceptLanguage) ?? "en";
}

export interface UnsubscribeAnswer {
  preference: MailPreferenceName;
  /** The language of the page. */
  locale: MailLocale;
}

/** What an unsubscribe token would turn off; AppError unsubscribe.invalid_token if we did not sign it. */
export async function describeUnsubscribe(
  ctx: MailContext,
  token: string,
  acceptLanguage: string | undefined,
): Promise<UnsubscribeAnswer> {
  const { userId, preference } = readUnsubscribe(ctx, token);
  return { preference, locale: await pageLocale(ctx, userId, acceptLanguage) };
}

/** Turns off the preference a token names (no login: the token is the credential). */
export async function unsubscribe(
  ctx: MailContext,
  token: string,
  acceptLanguage: string | undefined,
): Promise<UnsubscribeAnswer> {
  const { userId, preference } = readUnsubscribe(ctx, token);
  if (!(await repo.switchOff(ctx.db, userId, preference, ctx.clock.now()))) {
    throw new AppError("unsubscribe.invalid_token", "This unsubscribe link is not valid.");
  }
  return { preference, locale: await pageLocale(ctx, userId, acceptLanguage) };
}

const pageCursorSchema = z.object({ before: z.uuid() });

/** Every mail, newest first (admins): to whom, what, and whether it left. */
export async function listMails(ctx: MailContext, query: MailListQuery): Promise<MailMessagePage> {
  const beforeId = query.cursor === undefined ? undefined : readCursor(query.cursor, pageCursorSchema).before;
  const rows = await repo.listMails(ctx.db, { beforeId, limit: query.limit + 1 });
  const isFiles = ctx.settings.smtpUrl === undefined;
  const items = rows.slice(0, query.limit).map((row) => ({
    id: row.id,
    kind: row.kind,
    userId: row.user_id,
    to: row.to_address,
    subject: row.subject,
    locale: row.locale,
    status: row.status,
    createdAt: row.created_at.toISOString(),
    sentAt: row.sent_at?.toISOString() ?? null,
    emlUrl: isFiles && row.status === "sent" ? `/api/admin/mail/${row.id}/eml` : null,
  }));
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > query.limit && last !== undefined ? writeCursor({ before: last.id }) : null,
  };
}

/** A sent mail's .eml file (embedded mode); AppError mail.not_found when there is none. */
export async function readEml(ctx: MailContext, id: string): Promise<Buffer> {
  const row = await repo.findMailStatus(ctx.db, id);
  if (row?.status === "sent" && ctx.settings.smtpUrl === undefined) {
    try {
      return await readFile(emlPathOf(ctx.settings.dir, id));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  throw new AppError("mail.not_found", "No stored mail with this id.");
}
