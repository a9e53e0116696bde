/*
 * Segment's tracking API (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/),
 * which RudderStack's SDKs speak too, mapped onto Turnout's interaction (API.md): `messageId` becomes `id`,
 * `screen` is stored as `page`, `group` and `alias` as `identify` with `properties.groupId` and
 * `properties.previousId`. The result is checked like any other interaction afterwards.
 */

export const SEGMENT_TYPES = ["track", "page", "screen", "identify", "group", "alias"] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function textOrUndefined(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  return typeof value === "number" ? String(value) : undefined;
}

/**
 * One Segment message as an interaction candidate; `type` comes from the path for the single-message routes.
 * Segment makes the timestamp optional: without one, the message happened when it was received.
 */
export function fromSegmentMessage(message: unknown, receivedAt: string, type?: SegmentType): unknown {
  if (!isObject(message)) return message;
  const kind = type ?? message.type;
  const userId = textOrUndefined(message.userId);
  const properties = propertiesOf(kind, message);
  const context = isObject(message.context) ? contextOf(message.context) : undefined;
  const sessionId = isObject(message.context) ? textOrUndefined(message.context.sessionId) : undefined;
  return {
    id: message.messageId,
    type: kind === "screen" ? "page" : kind === "group" || kind === "alias" ? "identify" : kind,
    name: kind === "track" ? message.event : textOrUndefined(message.name),
    timestamp: message.timestamp ?? message.originalTimestamp ?? message.sentAt ?? receivedAt,
    anonymousId: textOrUndefined(message.anonymousId) ?? userId,
    ...(userId === undefined ? {} : { userId }),
    ...(sessionId === undefined ? {} : { sessionId }),
    ...(properties === undefined ? {} : { properties }),
    ...(context === undefined ? {} : { context }),
  };
}

function propertiesOf(kind: unknown, message: Json): unknown {
  switch (kind) {
    case "identify":
      return message.traits;
    case "group":
      return { ...(isObject(message.traits) ? message.traits : {}), groupId: message.groupId };
    case "alias":
      return { previousId: message.previousId };
    default:
      return message.properties;
  }
}

// Only the context fields Turnout keeps; Segment's library, IP and campaign fields are left out.
function contextOf(context: Json): Json {
  const page = isObject(context.page) ? context.page : undefined;
  const screen = isObject(context.screen) ? context.screen : undefined;
  return {
    ...(page === undefined
      ? {}
      : { page: { path: page.path, url: page.url, title: page.title, referrer: page.referrer } }),
    ...(context.userAgent === undefined ? {} : { userAgent: context.userAgent }),
    ...(context.locale === undefined ? {} : { locale: context.locale }),
    ...(screen === undefined ? {} : { screen: { width: screen.width, height: screen.height } }),
  };
}

/** The write key of `Authorization: Basic base64(writeKey:)`, as Segment's SDKs send it. */
export function writeKeyFromBasicAuth(header: string | undefined): string | undefined {
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "")?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const user = decoded.split(":", 1)[0] ?? "";
  return user === "" ? undefined : user;
}
