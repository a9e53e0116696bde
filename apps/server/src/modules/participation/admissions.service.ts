import type { Executor, Trx } from "../../platform/db.ts";
import { AppError } from "../../platform/errors.ts";
import { appendOutboxMany, type OutboxEntry } from "../../platform/outbox/outbox.ts";
import { participationChanged, statsChanged } from "./participation-messages.ts";
import * as repo from "./admissions.repo.ts";
import type { AdmissionCounters, AdmissionRecord, AdmissionTerms } from "./admissions.repo.ts";
import { promoteWaitlistHead } from "./participation.repo.ts";

// The events module's door into admission (ADR 0011). Each function takes the events transaction, so the
// event and its admission change together; participation alone writes the admissions table.

/** Creates the admission of a new event (a draft: nobody may join until openAdmission). */
export async function createAdmission(
  trx: Trx,
  admission: AdmissionTerms & { eventId: string; organizerId: string },
): Promise<void> {
  await repo.insertAdmission(trx, admission);
}

/** The event was published: joins are decided from now on (until it ends, see admit_joins_v3). */
export async function openAdmission(trx: Trx, eventId: string): Promise<void> {
  await repo.updateAdmission(trx, eventId, { state: "open" });
}

/**
 * The organizer changed the end, capacity or waitlist limit. Locks the admission; a capacity below the
 * confirmed count is 409 event.capacity_below_confirmed. A capacity raised (or made unlimited) gives the new
 * seats to the waitlist head at once, in order (API.md), in this transaction, with its outbox messages.
 */
export async function updateAdmission(
  trx: Trx,
  eventId: string,
  change: Partial<AdmissionTerms>,
  now: Date,
): Promise<void> {
  const current = await repo.findAdmission(trx, eventId, { forUpdate: true });
  if (current === undefined) throw new AppError("internal", "The event has no admission.");
  const capacity = change.capacity === undefined ? current.capacity : change.capacity;
  if (capacity !== null && capacity < current.confirmed) {
    throw new AppError(
      "event.capacity_below_confirmed",
      `${current.confirmed} people are confirmed; capacity cannot go below that.`,
      { confirmed: current.confirmed },
    );
  }
  await repo.updateAdmission(trx, eventId, change);
  const isRaised = current.capacity !== null && (capacity === null || capacity > current.capacity);
  if (isRaised) await appendOutboxMany(trx, await fillFreeSeats(trx, { ...current, capacity }, now));
}

/** The event was cancelled: nobody may join any more; `event.cancelled.v1` then releases every place. */
export async function closeAdmission(trx: Trx, eventId: string): Promise<void> {
  await repo.updateAdmission(trx, eventId, { state: "closed" });
}

/** The counters of these events, by id, for views of events; an event without an admission is absent. */
export async function countAdmissions(
  db: Executor,
  eventIds: readonly string[],
): Promise<Map<string, AdmissionCounters>> {
  return repo.findCounters(db, eventIds);
}

/**
 * Gives every free seat to the waitlist head, in queue order, and writes the counters; returns the messages.
 * Run it holding the admission's lock.
 */
export async function fillFreeSeats(trx: Trx, admission: AdmissionRecord, now: Date): Promise<OutboxEntry[]> {
  const { eventId, capacity } = admission;
  const free = capacity === null ? null : Math.max(0, capacity - admission.confirmed);
  const promoted = admission.waitlisted === 0 ? [] : await promoteWaitlistHead(trx, eventId, free, now);
  const counters = {
    confirmed: admission.confirmed + promoted.length,
    waitlisted: admission.waitlisted - promoted.length,
    checkedIn: admission.checkedIn,
  };
  await repo.setCounters(trx, eventId, counters);
  return [
    ...promoted.map((record) => participationChanged(record, null, "promoted")),
    statsChanged(eventId, capacity, counters),
  ];
}
