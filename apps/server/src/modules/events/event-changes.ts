import type { CreateEventBody, UpdateEventBody, Venue } from "@turnout/contracts";
import type { EventFields, EventRecord } from "./events.repo.ts";

/** The stored form of a create body: times as Dates (milliseconds), tags without repeats. */
export function toEventFields(body: CreateEventBody): EventFields {
  return {
    title: body.title,
    description: body.description,
    startsAt: new Date(body.startsAt),
    endsAt: new Date(body.endsAt),
    timezone: body.timezone,
    venue: body.venue,
    onlineUrl: body.onlineUrl,
    category: body.category,
    tags: uniqueTags(body.tags),
    capacity: body.capacity,
    waitlistLimit: body.waitlistLimit,
    visibility: body.visibility,
    coverPhotoUrl: body.coverPhotoUrl,
  };
}

const FIELD_NAMES = [
  "title",
  "description",
  "startsAt",
  "endsAt",
  "timezone",
  "venue",
  "onlineUrl",
  "category",
  "tags",
  "capacity",
  "waitlistLimit",
  "visibility",
  "coverPhotoUrl",
] as const satisfies readonly (keyof EventFields)[];

export interface EventChanges {
  /** Only the fields whose value differs from the stored one. */
  patch: Partial<EventFields>;
  /** Their API names (`startsAt`, `venue`, ...), for the `event.updated.v1` message. */
  changedFields: (keyof EventFields)[];
}

/** Compares a PATCH body with the stored event; fields sent with their current value are not changes. */
export function diffEvent(current: EventRecord, body: UpdateEventBody): EventChanges {
  const wanted: Partial<EventFields> = {
    title: body.title,
    description: body.description,
    startsAt: body.startsAt === undefined ? undefined : new Date(body.startsAt),
    endsAt: body.endsAt === undefined ? undefined : new Date(body.endsAt),
    timezone: body.timezone,
    venue: body.venue,
    onlineUrl: body.onlineUrl,
    category: body.category,
    tags: body.tags === undefined ? undefined : uniqueTags(body.tags),
    capacity: body.capacity,
    waitlistLimit: body.waitlistLimit,
    visibility: body.visibility,
    coverPhotoUrl: body.coverPhotoUrl,
  };
  const patch: Partial<EventFields> = {};
  const changedFields: (keyof EventFields)[] = [];
  for (const field of FIELD_NAMES) {
    const value = wanted[field];
    if (value === undefined || isSame(current[field], value)) continue;
    Object.assign(patch, { [field]: value });
    changedFields.push(field);
  }
  return { patch, changedFields };
}

type FieldValue = EventFields[keyof EventFields];

function isSame(stored: FieldValue, wanted: FieldValue): boolean {
  if (stored instanceof Date && wanted instanceof Date) return stored.getTime() === wanted.getTime();
  if (Array.isArray(stored) && Array.isArray(wanted)) {
    return stored.length === wanted.length && stored.every((tag, index) => tag === wanted[index]);
  }
  if (isVenue(stored) && isVenue(wanted)) return sameVenue(stored, wanted);
  return stored === wanted;
}

function isVenue(value: FieldValue): value is Venue {
  return typeof value === "object" && value !== null && !(value instanceof Date) && !Array.isArray(value);
}

function sameVenue(a: Venue, b: Venue): boolean {
  return a.name === b.name && a.address === b.address && a.lat === b.lat && a.lng === b.lng;
}

function uniqueTags(tags: string[]): string[] {
  return [...new Set(tags)];
}
