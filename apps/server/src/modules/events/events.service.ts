import {
  type CreateEventBody,
  EVENT_DOMAIN_EVENTS,
  type Event,
  type EventPage,
  type MyEventsQuery,
  type MyParticipationPage,
  type MyParticipationsQuery,
  type UpdateEventBody,
} from "@turnout/contracts";
import { v7 as uuidv7 } from "uuid";
import type { Deps } from "../../deps.ts";
import type { Executor, Trx } from "../../platform/db.ts";
import { AppError } from "../../platform/errors.ts";
import { appendOutbox } from "../../platform/outbox/outbox.ts";
import type { AuthUser } from "../auth/index.ts";
import {
  closeAdmission,
  createAdmission,
  listMyParticipations as listParticipationsOf,
  openAdmission,
  updateAdmission,
} from "../participation/index.ts";
import { decodeCursor } from "./cursor.ts";
import { canManageEvent, canSeeEvent, hasEnded } from "./event-access.ts";
import { diffEvent, toEventFields } from "./event-changes.ts";
import { toEventViewOf, toEventViews, toPage } from "./event-view.ts";
import * as repo from "./events.repo.ts";
import type { EventRecord } from "./events.repo.ts";
import { ifMatchAllows } from "./etag.ts";

export type EventsDeps = Pick<Deps, "db" | "clock">;

/** Options of a write: the request's If-Match header, checked against the locked row. */
export interface WriteOptions {
  ifMatch?: string;
}

/** Creates a draft organized by the caller. Drafts may lie in the past; publishing checks that. */
export async function createEvent(deps: EventsDeps, actor: AuthUser, body: CreateEventBody): Promise<Event> {
  const id = uuidv7();
  const now = deps.clock.now();
  const fields = toEventFields(body);
  await deps.db.transaction().execute(async (trx) => {
    await repo.insertEvent(trx, { ...fields, id, organizerId: actor.id, now });
    const { endsAt, capacity, waitlistLimit } = fields;
    await createAdmission(trx, { eventId: id, organizerId: actor.id, endsAt, capacity, waitlistLimit });
  });
  return toEventViewOf(deps.db, await findOrThrow(deps.db, id), now);
}

/** What a caller may do with an event: see it (as GET /api/events/:id would) and manage it. */
export interface EventAccess {
  canSee: boolean;
  /** The organizer, a moderator or an admin. */
  canManage: boolean;
}

/**
 * For other modules (the realtime gateway: may this caller follow the event, see its organizer's view?):
 * the caller's access to the event, both false when there is no such event.
 */
export async function findEventAccess(
  db: Executor,
  actor: AuthUser | null,
  eventId: string,
): Promise<EventAccess> {
  const event = await repo.findOwnership(db, eventId);
  if (event === undefined) return { canSee: false, canManage: false };
  return { canSee: canSeeEvent(actor, event), canManage: canManageEvent(actor, event) };
}

/** For other modules (photos, notifications): the events with these ids, drafts included, by id. */
export async function findEventsByIds(deps: EventsDeps, ids: readonly string[]): Promise<Map<string, Event>> {
  const views = await toEventViews(deps.db, await repo.findEvents(deps.db, ids), deps.clock.now());
  return new Map(views.map((event) => [event.id, event]));
}

/** The event, if the caller may see it (drafts: organizer and moderators+); else 404 event.not_found. */
export async function getEvent(deps: EventsDeps, actor: AuthUser | null, id: string): Promise<Event> {
  const record = await repo.findEvent(deps.db, id);
  if (record === undefined || !canSeeEvent(actor, record)) throw eventNotFound();
  return toEventViewOf(deps.db, record, deps.clock.now());
}

/**
 * The caller's participations, latest join first, each with its event (GET /api/me/participations):
 * participation's page, and the events it names. No visibility check: the caller is already part of them.
 */
export async function listMyParticipations(
  deps: EventsDeps,
  actor: AuthUser,
  query: MyParticipationsQuery,
): Promise<MyParticipationPage> {
  const page = await listParticipationsOf(deps.db, actor.id, query);
  const records = await repo.findEvents(
    deps.db,
    page.items.map((participation) => participation.eventId),
  );
  const views = await toEventViews(deps.db, records, deps.clock.now());
  const events = new Map(views.map((event) => [event.id, event]));
  const items = page.items.flatMap((participation) => {
    const event = events.get(participation.eventId);
    return event === undefined ? [] : [{ ...participation, event }];
  });
  return { items, nextCursor: page.nextCursor };
}

/** The event as anyone with its id sees it, or null when there is none or it is a draft. */
export async function findSharedEvent(deps: EventsDeps, id: string): Promise<Event | null> {
  const record = await repo.findEvent(deps.db, id);
  if (record === undefined || record.status === "draft") return null;
  return toEventViewOf(deps.db, record, deps.clock.now());
}

/**
 * Applies a PATCH. Cancelled events are final (409 event.invalid_state); capacity below the confirmed count
 * is 409 event.capacity_below_confirmed. A change to a published event writes `event.updated.v1`; drafts
 * were never public, so their edits write nothing. Sending only current values changes nothing.
 */
export async function updateEvent(
  deps: EventsDeps,
  actor: AuthUser,
  id: string,
  body: UpdateEventBody,
  options: WriteOptions = {},
): Promise<Event> {
  return deps.db.transaction().execute(async (trx) => {
    const current = await lockForWrite(trx, actor, id, options);
    if (current.status === "cancelled") throw invalidState("A cancelled event can no longer be edited.");
    const { patch, changedFields } = diffEvent(current, body);
    if (changedFields.length === 0) return toEventViewOf(trx, current, deps.clock.now());

    const startsAt = patch.startsAt ?? current.startsAt;
    const endsAt = patch.endsAt ?? current.endsAt;
    if (endsAt <= startsAt) {
      throw new AppError("validation.failed", "The request is not valid.", [
        { path: "endsAt", message: "must be after startsAt" },
      ]);
    }
    const terms = { endsAt: patch.endsAt, capacity: patch.capacity, waitlistLimit: patch.waitlistLimit };
    // Refuses a capacity below the confirmed count (409), and gives raised seats to the waitlist at once.
    if (Object.values(terms).some((value) => value !== undefined)) {
      await updateAdmission(trx, id, terms, deps.clock.now());
    }
    await repo.updateEvent(trx, id, { ...patch, now: deps.clock.now() });
    const updated = await findOrThrow(trx, id);
    const event = await toEventViewOf(trx, updated, deps.clock.now());
    if (updated.status !== "draft") {
      await appendEventMessage(trx, EVENT_DOMAIN_EVENTS.updated, { event, changedFields });
    }
    return event;
  });
}

/** Publishes a draft: 409 event.invalid_state unless draft, 409 event.in_past once it has ended. */
export async function publishEvent(
  deps: EventsDeps,
  actor: AuthUser,
  id: string,
  options: WriteOptions = {},
): Promise<Event> {
  return deps.db.transaction().execute(async (trx) => {
    const current = await lockForWrite(trx, actor, id, options);
    if (current.status !== "draft") throw invalidState(`The event is ${current.status}, not a draft.`);
    if (hasEnded(current, deps.clock.now())) throw inPast("The event has already ended.");
    await repo.updateEvent(trx, id, { status: "published", now: deps.clock.now() });
    await openAdmission(trx, id);
    const event = await toEventViewOf(trx, await findOrThrow(trx, id), deps.clock.now());
    await appendEventMessage(trx, EVENT_DOMAIN_EVENTS.published, { event });
    return event;
  });
}

/**
 * Cancels a published event; `event.cancelled.v1` is what moves its participations to event_cancelled.
 * Only published events qualify: a draft has no one to tell (delete it instead), a cancelled one is
 * done (409 event.invalid_state), and one that has ended is history (409 event.in_past).
 */
export async function cancelEvent(
  deps: EventsDeps,
  actor: AuthUser,
  id: string,
  reason: string,
  options: WriteOptions = {},
): Promise<Event> {
  return deps.db.transaction().execute(async (trx) => {
    const current = await lockForWrite(trx, actor, id, options);
    if (current.status !== "published") {
      throw invalidState(
        current.status === "draft"
          ? "A draft cannot be cancelled; delete it."
          : "The event is already cancelled.",
      );
    }
    if (hasEnded(current, deps.clock.now())) throw inPast("An event that has ended cannot be cancelled.");
    await repo.updateEvent(trx, id, { status: "cancelled", cancelReason: reason, now: deps.clock.now() });
    await closeAdmission(trx, id);
    const event = await toEventViewOf(trx, await findOrThrow(trx, id), deps.clock.now());
    await appendEventMessage(trx, EVENT_DOMAIN_EVENTS.cancelled, { event });
    return event;
  });
}

/** Deletes a draft; anything else is 409 event.invalid_state (published events are cancelled instead). */
export async function deleteEvent(
  deps: EventsDeps,
  actor: AuthUser,
  id: string,
  options: WriteOptions = {},
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    const current = await lockForWrite(trx, actor, id, options);
    if (current.status !== "draft")
      throw invalidState("Only drafts can be deleted; cancel the event instead.");
    await repo.deleteEvent(trx, id);
  });
}

/** The caller's own events, every status, latest start first. */
export async function listMyEvents(
  deps: EventsDeps,
  actor: AuthUser,
  query: MyEventsQuery,
): Promise<EventPage> {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, "time");
  const rows = await repo.listOrganizerEvents(deps.db, actor.id, { limit: query.limit + 1, after });
  return toPage(deps.db, rows, query.limit, deps.clock.now());
}

// Locks the row first, so every write to one event (and its outbox rows) is serialised; then decides who
// may act: a draft the caller may not see is 404 like a missing one, a visible event they may not manage 403.
async function lockForWrite(
  trx: Trx,
  actor: AuthUser,
  id: string,
  options: WriteOptions,
): Promise<EventRecord> {
  const current = await repo.findEvent(trx, id, { forUpdate: true });
  if (current === undefined || !canSeeEvent(actor, current)) throw eventNotFound();
  if (!canManageEvent(actor, current)) {
    throw new AppError("auth.forbidden", "Only the organizer or a moderator may change this event.");
  }
  if (!ifMatchAllows(options.ifMatch, current.version)) {
    throw new AppError(
      "resource.version_mismatch",
      `The event changed since you read it; it is now version ${current.version}.`,
      { version: current.version },
    );
  }
  return current;
}

async function appendEventMessage(
  trx: Trx,
  type: string,
  data: { event: Event; changedFields?: string[] },
): Promise<void> {
  await appendOutbox(trx, { aggregateType: "event", aggregateId: data.event.id, type, data });
}

async function findOrThrow(db: Executor, id: string): Promise<EventRecord> {
  const record = await repo.findEvent(db, id);
  if (record === undefined) throw eventNotFound();
  return record;
}

function eventNotFound(): AppError {
  return new AppError("event.not_found", "No such event.");
}

function invalidState(message: string): AppError {
  return new AppError("event.invalid_state", message);
}

function inPast(message: string): AppError {
  return new AppError("event.in_past", message);
}
