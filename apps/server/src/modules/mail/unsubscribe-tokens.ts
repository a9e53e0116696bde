import { createHmac, timingSafeEqual } from "node:crypto";
import type { MailPreferenceName, NotificationKind } from "@turnout/contracts";

/*
 * The unsubscribe link's token: the person and the preference it turns off, with an HMAC over both, so the
 * link works without a login and cannot be bent to another person or another preference. The label keeps
 * these signatures apart from the other uses of URL_SIGNING_SECRET.
 */

const LABEL = "turnout.mail-unsubscribe.v1";
const MAC_BYTES = 18;

/** The preference each kind of mail answers to; a cancellation is a change to the event. */
export const PREFERENCE_OF_KIND: Record<NotificationKind, MailPreferenceName> = {
  "participation.confirmed": "emailOnJoin",
  "participation.promoted": "emailOnPromotion",
  "event.changed": "emailOnEventChange",
  "event.cancelled": "emailOnEventChange",
  announcement: "emailOnAnnouncement",
  reminder: "emailReminders",
};

const PREFERENCE_NAMES = new Set<string>(Object.values(PREFERENCE_OF_KIND));

function isPreferenceName(value: string): value is MailPreferenceName {
  return PREFERENCE_NAMES.has(value);
}

function macOf(secret: string, userId: string, preference: string): Buffer {
  return createHmac("sha256", secret)
    .update(`${LABEL}.${userId}.${preference}`)
    .digest()
    .subarray(0, MAC_BYTES);
}

/** A token that turns `preference` off for `userId`. */
export function signUnsubscribeToken(secret: string, userId: string, preference: MailPreferenceName): string {
  return `${userId}.${preference}.${macOf(secret, userId, preference).toString("base64url")}`;
}

/** Who and what a token unsubscribes; null for anything not signed by `secret`. */
export function readUnsubscribeToken(
  secret: string,
  token: string,
): { userId: string; preference: MailPreferenceName } | null {
  const [userId, preference, mac, extra] = token.split(".");
  if (userId === undefined || preference === undefined || mac === undefined || extra !== undefined)
    return null;
  if (!isPreferenceName(preference)) return null;
  const given = Buffer.from(mac, "base64url");
  // Node's decoder skips characters that are not base64url, so a token with anything added would still
  // decode to the right MAC: only the exact encoding counts.
  if (given.toString("base64url") !== mac) return null;
  const expected = macOf(secret, userId, preference);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return { userId, preference };
}
