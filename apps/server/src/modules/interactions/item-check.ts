import {
  INTERACTION_ID_MAX,
  INTERACTION_PROPERTIES_MAX_BYTES,
  interactionSchema,
  type Interaction,
  type InteractionContext,
  type InteractionStamp,
  type StampedInteraction,
} from "@turnout/contracts";
import { eventIdText, jsonText, optionalText, referrerText, text } from "./copy-line.ts";

/*
 * The interaction contract (packages/contracts interactionSchema, API.md) checked by hand, for the hot path of
 * the collector and the processor: zod's per-item parse was their biggest single cost (ADR 0015). These
 * functions only ever accept: an item they return passes zod's schema and gives the same JSON as zod's
 * output. For anything else they answer undefined and the caller asks zod, whose issue is the error message,
 * so the rules and the messages stay zod's (item-check.test.ts compares the two on generated items).
 */

type Json = Record<string, unknown>;

// zod's own pattern for z.iso.datetime({ offset: true }), not a copy of it.
const DATETIME = interactionSchema.shape.timestamp._zod.def.pattern;
const TYPES: ReadonlySet<unknown> = new Set(["page", "track", "identify"]);

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isText(value: unknown, min: number, max: number): value is string {
  return typeof value === "string" && value.length >= min && value.length <= max;
}

function isOptionalText(value: unknown, min: number, max: number): value is string | undefined {
  return value === undefined || isText(value, min, max);
}

function isScreenSide(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 100_000;
}

/** The properties' JSON when zod accepts them (a plain object within the size limit); undefined otherwise. */
function smallPropertiesJson(value: Json): string | undefined {
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return undefined;
  const json = JSON.stringify(value);
  // A UTF-16 unit takes at most 3 bytes of UTF-8; count the bytes only when that bound is not enough.
  return json.length * 3 <= INTERACTION_PROPERTIES_MAX_BYTES ||
    Buffer.byteLength(json) <= INTERACTION_PROPERTIES_MAX_BYTES
    ? json
    : undefined;
}

/** The context as zod outputs it (its unknown keys dropped); undefined when zod might refuse it. */
function readContext(value: Json): InteractionContext | undefined {
  const { page, userAgent, locale, screen } = value;
  if (!isOptionalText(userAgent, 0, 1_000) || !isOptionalText(locale, 0, 50)) return undefined;
  let readPage: InteractionContext["page"];
  if (page !== undefined) {
    if (!isRecord(page)) return undefined;
    const { path, url, title, referrer } = page;
    if (
      !isText(path, 0, 2_000) ||
      !isOptionalText(url, 0, 4_000) ||
      !isOptionalText(title, 0, 1_000) ||
      !isOptionalText(referrer, 0, 4_000)
    )
      return undefined;
    readPage = { path, url, title, referrer };
  }
  let readScreen: InteractionContext["screen"];
  if (screen !== undefined) {
    if (!isRecord(screen)) return undefined;
    const { width, height } = screen;
    if (!isScreenSide(width) || !isScreenSide(height)) return undefined;
    readScreen = { width, height };
  }
  // zod's key order, so the JSON is the same text.
  return { page: readPage, userAgent, locale, screen: readScreen };
}

/** An item's fields as far as they are checked: the scalars by type and length, the rest still unknown. */
interface CheckedFields extends Json {
  id: string;
  type: Interaction["type"];
  name?: string;
  timestamp: string;
  anonymousId: string;
  userId?: string;
  sessionId?: string;
}

/** What checkItem read of an item that surely passes: its fields, its properties' JSON and its context. */
interface CheckedItem {
  fields: CheckedFields;
  properties: Json | undefined;
  propertiesJson: string | undefined;
  context: InteractionContext | undefined;
}

function hasCheckedFields(item: Json): item is CheckedFields {
  const { id, type, name, timestamp, anonymousId, userId, sessionId } = item;
  return (
    isText(id, 1, INTERACTION_ID_MAX) &&
    TYPES.has(type) &&
    isOptionalText(name, 0, 200) &&
    typeof timestamp === "string" &&
    DATETIME !== undefined &&
    DATETIME.test(timestamp) &&
    isText(anonymousId, 1, 200) &&
    isOptionalText(userId, 1, 200) &&
    isOptionalText(sessionId, 1, 200)
  );
}

/** The one check of an item against the contract, for both readers below; undefined when zod must decide. */
function checkItem(item: unknown): CheckedItem | undefined {
  if (!isRecord(item) || !hasCheckedFields(item)) return undefined;
  const { properties, context } = item;
  let propertiesJson: string | undefined;
  if (properties !== undefined) {
    if (!isRecord(properties)) return undefined;
    propertiesJson = smallPropertiesJson(properties);
    if (propertiesJson === undefined) return undefined;
  }
  let readContextValue: InteractionContext | undefined;
  if (context !== undefined) {
    if (!isRecord(context)) return undefined;
    readContextValue = readContext(context);
    if (readContextValue === undefined) return undefined;
  }
  return { fields: item, properties, propertiesJson, context: readContextValue };
}

/**
 * The item as interactionSchema outputs it, built field by field, when the item surely passes; undefined when
 * it may not (then zod decides, and says why).
 */
export function readInteraction(item: unknown): Interaction | undefined {
  const checked = checkItem(item);
  if (checked === undefined) return undefined;
  const { id, type, name, timestamp, anonymousId, userId, sessionId } = checked.fields;
  return {
    id,
    type,
    name,
    timestamp,
    anonymousId,
    userId,
    sessionId,
    properties: checked.properties,
    context: checked.context,
  };
}

/** A checked item as the collector appends it: its COPY line and its timestamp's UTC hour. */
export interface ItemLine {
  line: string;
  /** Math.floor(ms / 3,600,000) of the line's timestamp. */
  hour: number;
}

const HOUR_MS = 3_600_000;
// Already in toISOString's form (what the tracker and most SDKs send): kept as it is, without a Date.
const CANONICAL_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * The time an accepted item is stored with: its own in toISOString's form, or the time received when it is
 * later than that (a client's clock ahead). `ms` is Date.parse of `timestamp`.
 */
export function storedTime(timestamp: string, ms: number, receivedAt: Date): { time: string; ms: number } {
  if (ms > receivedAt.getTime()) return { time: receivedAt.toISOString(), ms: receivedAt.getTime() };
  return { time: CANONICAL_TIME.test(timestamp) ? timestamp : new Date(ms).toISOString(), ms };
}

/**
 * The collector's hot path: the item checked as readInteraction checks it and written straight as its COPY
 * line (the same text as toCopyLine of readInteraction's output with its stored time), with no object built
 * for it and the properties' JSON of the size check reused. Undefined when zod must decide.
 */
export function readInteractionLine(
  item: unknown,
  stampText: string,
  receivedAt: Date,
): ItemLine | undefined {
  const checked = checkItem(item);
  if (checked === undefined) return undefined;
  const { id, type, name, timestamp, anonymousId, userId, sessionId } = checked.fields;
  const stored = storedTime(timestamp, Date.parse(timestamp), receivedAt);
  const page = checked.context?.page;
  const contextJson = checked.context === undefined ? undefined : JSON.stringify(checked.context);
  return {
    line: `${text(id)}\t${type}\t${optionalText(name)}\t${stored.time}\t${text(anonymousId)}\t${optionalText(userId)}\t${optionalText(sessionId)}\t${eventIdText(checked.properties?.eventId)}\t${optionalText(page?.path)}\t${referrerText(page?.referrer)}\t${jsonText(checked.propertiesJson)}\t${jsonText(contextJson)}\t${stampText}`,
    hour: Math.floor(stored.ms / HOUR_MS),
  };
}

/** The stamps of a batch from the stream as interactionStampSchema outputs them; undefined when it may not. */
export function readStamp(value: unknown): InteractionStamp | undefined {
  if (!isRecord(value)) return undefined;
  const { sourceId, receivedAt, ip, device, browser, os } = value;
  if (
    typeof sourceId !== "string" ||
    typeof receivedAt !== "string" ||
    !(ip === null || typeof ip === "string") ||
    typeof device !== "string" ||
    typeof browser !== "string" ||
    typeof os !== "string"
  )
    return undefined;
  return { sourceId, receivedAt, ip, device, browser, os };
}

/** The same for a stamped item of the stream's format 1 (stampedInteractionSchema). */
export function readStampedInteraction(item: unknown): StampedInteraction | undefined {
  const interaction = readInteraction(item);
  const stamp = interaction === undefined ? undefined : readStamp(item);
  if (interaction === undefined || stamp === undefined) return undefined;
  return {
    id: interaction.id,
    type: interaction.type,
    name: interaction.name,
    timestamp: interaction.timestamp,
    anonymousId: interaction.anonymousId,
    userId: interaction.userId,
    sessionId: interaction.sessionId,
    properties: interaction.properties,
    context: interaction.context,
    sourceId: stamp.sourceId,
    receivedAt: stamp.receivedAt,
    ip: stamp.ip,
    device: stamp.device,
    browser: stamp.browser,
    os: stamp.os,
  };
}
