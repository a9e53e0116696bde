import type { EventStats, Participation } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import type { Executor, Trx } from "../../platform/db.ts";
import { AppError } from "../../platform/errors.ts";
import { appendOutboxMany } from "../../platform/outbox/outbox.ts";
import type { AuthUser } from "../auth/index.ts";
import type { AdmissionQueue, JoinOutcome } from "./admission.ts";
import { canManageAdmission, canSeeAdmission } from "./admission-access.ts";
import { findAdmission, setCounters } from "./admissions.repo.ts";
import type { AdmissionRecord } from "./admissions.repo.ts";
import { fillFreeSeats } from "./admissions.service.ts";
import { participationChanged, statsChanged } from "./participation-messages.ts";
import * as repo from "./participation.repo.ts";
import type { ParticipationRecord } from "./participation.repo.ts";

export type ParticipationDeps = Pick<Deps, "db" | "clock">;

/** Joins the caller to the event through the admission queue (see admission.ts for every answer). */
export function joinEvent(queue: AdmissionQueue, actor: AuthUser, eventId: string): Promise<JoinOutcome> {
  return queue.join(eventId, actor.id);
}

/**
 * Cancels the caller's place. A freed seat goes to the head of the waitlist in the same transaction.
 * Cancelling a place that is no longer held answers it unchanged; none at all is 404 participation.not_found.
 */
export async function leaveEvent(deps: ParticipationDeps, actor: AuthUser, eventId: string) {
  return release(deps, eventId, actor.id, { status: "cancelled", cause: "cancelled" });
}

/**
 * The organizer (or a moderator+) removes someone: their seat goes to the waitlist head, and they may not
 * join again. Removing again answers the removed participation unchanged.
 */
export async function removeParticipant(
  deps: ParticipationDeps,
  actor: AuthUser,
  eventId: string,
  userId: string,
  reason: string | undefined,
): Promise<{ participation: Participation; changed: boolean }> {
  const admission = await findAdmission(deps.db, eventId);
  if (admission === undefined || !canSeeAdmission(actor, admission)) throw eventNotFound();
  if (!canManageAdmission(actor, admission)) {
    throw new AppError("auth.forbidden", "Only the organizer or a moderator may remove participants.");
  }
  return release(deps, eventId, userId, { status: "removed", cause: "removed", reason });
}

/** The caller's participation, 404 participation.not_found when there is none (or the event is hidden). */
export async function getParticipation(
  deps: ParticipationDeps,
  actor: AuthUser,
  eventId: string,
): Promise<Participation> {
  const admission = await findAdmission(deps.db, eventId);
  if (admission === undefined || !canSeeAdmission(actor, admission)) throw eventNotFound();
  const record = await repo.findParticipation(deps.db, eventId, actor.id);
  if (record === undefined) throw participationNotFound();
  return withPosition(deps.db, record);
}

/** The events a user holds a confirmed seat at (for their calendar feed), latest join first. */
export async function listConfirmedEventIds(db: Executor, userId: string): Promise<string[]> {
  return repo.listConfirmedEventIds(db, userId, CALENDAR_FEED_LIMIT);
}

// A calendar client polls the feed every few minutes; a year of weekly events is plenty.
const CALENDAR_FEED_LIMIT = 500;

/** The counters, straight from the admission's row (never cached): they equal the participant lists. */
export async function getStats(
  deps: ParticipationDeps,
  actor: AuthUser | null,
  eventId: string,
): Promise<EventStats> {
  const admission = await findAdmission(deps.db, eventId);
  if (admission === undefined || !canSeeAdmission(actor, admission)) throw eventNotFound();
  return statsOf(admission);
}

/** After `event.cancelled.v1`: every confirmed and waitlisted place becomes event_cancelled, each person told once. */
export async function cancelAllParticipations(deps: ParticipationDeps, trx: Trx, eventId: string) {
  const admission = await findAdmission(trx, eventId, { forUpdate: true });
  if (admission === undefined) return;
  const records = await repo.cancelAllPlaces(trx, eventId, deps.clock.now());
  // checkedIn counts confirmed people who came; with nobody confirmed any more, it is 0 too.
  const counters = { confirmed: 0, waitlisted: 0, checkedIn: 0 };
  await setCounters(trx, eventId, counters);
  const messages = records
    .sort((a, b) => a.queueNumber - b.queueNumber)
    .map((record) => participationChanged(record, null, "event_cancelled"));
  if (records.length > 0) messages.push(statsChanged(eventId, admission.capacity, counters));
  await appendOutboxMany(trx, messages);
}

async function release(
  deps: ParticipationDeps,
  eventId: string,
  userId: string,
  change: { status: "cancelled" | "removed"; cause: "cancelled" | "removed"; reason?: string },
): Promise<{ participation: Participation; changed: boolean }> {
  const now = deps.clock.now();
  const result = await deps.db.transaction().execute(async (trx) => {
    const admission = await findAdmission(trx, eventId, { forUpdate: true });
    if (admission === undefined || admission.state === "draft") throw eventNotFound();
    const current = await repo.findParticipation(trx, eventId, userId);
    if (current === undefined) throw participationNotFound();
    // A removal also bars someone who had cancelled; anything else that holds no place stays as it is.
    const isHeld = current.status === "confirmed" || current.status === "waitlisted";
    if (!isHeld && !(change.status === "removed" && current.status === "cancelled")) {
      return { record: current, changed: false };
    }
    const record = await repo.releasePlace(trx, eventId, userId, { ...change, now });
    if (!isHeld) return { record, changed: true };
    const counters = {
      confirmed: admission.confirmed - (current.status === "confirmed" ? 1 : 0),
      waitlisted: admission.waitlisted - (current.status === "waitlisted" ? 1 : 0),
      checkedIn: admission.checkedIn - (current.checkedInAt === null ? 0 : 1),
    };
    const messages = [participationChanged(record, null, change.cause)];
    messages.push(...(await fillFreeSeats(trx, { ...admission, ...counters }, now)));
    await appendOutboxMany(trx, messages);
    return { record, changed: true };
  });
  return { participation: await withPosition(deps.db, result.record), changed: result.changed };
}

async function withPosition(db: Executor, record: ParticipationRecord): Promise<Participation> {
  const position =
    record.status === "waitlisted"
      ? await repo.waitlistPosition(db, record.eventId, record.queueNumber)
      : null;
  return repo.toParticipation(record, position);
}

function statsOf(admission: AdmissionRecord): EventStats {
  return {
    capacity: admission.capacity,
    confirmed: admission.confirmed,
    waitlisted: admission.waitlisted,
    checkedIn: admission.checkedIn,
  };
}

function eventNotFound(): AppError {
  return new AppError("event.not_found", "No such event.");
}

function participationNotFound(): AppError {
  return new AppError("participation.not_found", "You have no participation at this event.");
}
