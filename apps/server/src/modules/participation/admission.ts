import type { Participation } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import type { Executor } from "../../platform/db.ts";
import { AppError } from "../../platform/errors.ts";
import { appendOutboxMany, type OutboxEntry } from "../../platform/outbox/outbox.ts";
import { findEventAdmission, setEventCounters } from "../events/events.service.ts";
import { decideJoins, isFull, type JoinDecision } from "./admission-rules.ts";
import { participationChanged, statsChanged } from "./participation-messages.ts";
import * as repo from "./participation.repo.ts";
import type { ParticipationRecord } from "./participation.repo.ts";

/*
 * Admission: every join of one event that arrives while the previous batch of that event is being written
 * waits and goes into the next batch, decided in arrival order in one transaction on the locked event row
 * (ADR 0005). Under a crowd one commit admits hundreds; alone, a join waits for nothing but its own commit.
 * Two processes each batch their own joins; the row lock serialises their batches, so seats stay exact.
 */

export interface JoinOutcome {
  /** true: a new place (201); false: the place the caller already held (200). */
  isNew: boolean;
  participation: Participation;
}

export interface AdmissionQueue {
  join(eventId: string, userId: string): Promise<JoinOutcome>;
  /** Resolves once every join queued so far is decided; the pool must outlive this. */
  drain(): Promise<void>;
}

interface Waiter {
  userId: string;
  resolve: (outcome: JoinOutcome) => void;
  reject: (error: unknown) => void;
}

// Bounds one transaction's size; a bigger crowd simply takes several batches.
const MAX_BATCH = 1_000;

type AdmissionDeps = Pick<Deps, "db" | "clock" | "metrics">;

/** The per-process queue of joins; `onChange` hears of every event whose participations changed. */
export function createAdmissionQueue(
  deps: AdmissionDeps,
  onChange: (eventId: string) => void = () => undefined,
): AdmissionQueue {
  const pending = new Map<string, Waiter[]>();
  const draining = new Set<Promise<void>>();
  // Events that refused every newcomer in their last batch (full, cancelled, ended): the next batch first
  // tries to answer without a write, and writes only if a place has opened.
  const refusingEvents = new Set<string>();

  async function drain(eventId: string): Promise<void> {
    for (;;) {
      const queue = pending.get(eventId);
      if (queue === undefined || queue.length === 0) {
        pending.delete(eventId);
        return;
      }
      const batch = queue.splice(0, MAX_BATCH);
      try {
        const answered = refusingEvents.has(eventId) && (await answerWithoutWriting(eventId, batch));
        if (!answered) await admit(eventId, batch);
      } catch (error) {
        for (const waiter of batch) waiter.reject(error);
      }
    }
  }

  async function answerWithoutWriting(eventId: string, batch: Waiter[]): Promise<boolean> {
    const event = await findEventAdmission(deps.db, eventId);
    const closed = event === undefined ? eventNotFound() : closedError(event, deps.clock.now());
    if (closed !== null) {
      settleAll(batch, closed);
      return true;
    }
    if (event === undefined || !isFull(event)) {
      refusingEvents.delete(eventId);
      return false;
    }
    const held = await repo.findParticipationsOf(
      deps.db,
      eventId,
      batch.map((waiter) => waiter.userId),
    );
    const { decisions } = decideJoins(event, eligibleIds(batch, event.organizerId), statusesOf(held));
    await settle(deps.db, eventId, batch, event.organizerId, decisions, held);
    return true;
  }

  async function admit(eventId: string, batch: Waiter[]): Promise<void> {
    const now = deps.clock.now();
    const result = await deps.db.transaction().execute(async (trx) => {
      const event = await findEventAdmission(trx, eventId, { forUpdate: true });
      if (event === undefined) return { kind: "refused" as const, error: eventNotFound() };
      const closed = closedError(event, now);
      if (closed !== null) return { kind: "refused" as const, error: closed };

      const userIds = eligibleIds(batch, event.organizerId);
      const held = await repo.findParticipationsOf(trx, eventId, userIds);
      const { decisions, after } = decideJoins(event, userIds, statusesOf(held));
      const placed = placedOf(userIds, decisions);
      const numbers = await repo.drawQueueNumbers(trx, placed.length);
      const places = placed.map((place, index) => ({ ...place, queueNumber: numbers[index] ?? 0 }));
      const records = await repo.upsertPlaces(trx, eventId, places, now);
      for (const record of records) held.set(record.userId, record);
      if (records.length > 0) {
        const counters = {
          confirmed: after.confirmed,
          waitlisted: after.waitlisted,
          checkedIn: event.checkedIn,
        };
        await setEventCounters(trx, eventId, counters);
        const positions = new Map(places.map((place) => [place.userId, place.waitlistPosition]));
        const messages: OutboxEntry[] = records
          .sort((a, b) => a.queueNumber - b.queueNumber)
          .map((record) => participationChanged(record, positions.get(record.userId) ?? null, "joined"));
        messages.push(statsChanged(eventId, event.capacity, counters));
        await appendOutboxMany(trx, messages);
      }
      return { kind: "decided" as const, event, decisions, held, after };
    });
    if (result.kind === "refused") {
      refusingEvents.add(eventId);
      settleAll(batch, result.error);
      return;
    }
    const { event, decisions, held, after } = result;
    if (isFull(after)) refusingEvents.add(eventId);
    else refusingEvents.delete(eventId);
    if (decisions.some((decision) => decision.kind === "placed")) onChange(eventId);
    await settle(deps.db, eventId, batch, event.organizerId, decisions, held);
  }

  // Answers each waiter from the decisions (made for eligibleIds, in order) and the records held now.
  async function settle(
    db: Executor,
    eventId: string,
    batch: Waiter[],
    organizerId: string,
    decisions: JoinDecision[],
    held: Map<string, ParticipationRecord>,
  ): Promise<void> {
    let next = 0;
    for (const waiter of batch) {
      if (waiter.userId === organizerId) {
        count("forbidden");
        waiter.reject(new AppError("join.forbidden", "Organizers do not join their own events."));
        continue;
      }
      const decision = decisions[next++];
      const record = held.get(waiter.userId);
      try {
        waiter.resolve(await outcomeOf(db, eventId, decision, record));
      } catch (error) {
        waiter.reject(error);
      }
    }
  }

  async function outcomeOf(
    db: Executor,
    eventId: string,
    decision: JoinDecision | undefined,
    record: ParticipationRecord | undefined,
  ): Promise<JoinOutcome> {
    switch (decision?.kind) {
      case "placed":
        count(decision.status);
        if (record === undefined) throw new AppError("internal", "A new place was not written.");
        return { isNew: true, participation: repo.toParticipation(record, decision.waitlistPosition) };
      case "already": {
        count("already");
        if (record === undefined) throw new AppError("internal", "A held place was not found.");
        const position =
          record.status === "waitlisted"
            ? await repo.waitlistPosition(db, eventId, record.queueNumber)
            : null;
        return { isNew: false, participation: repo.toParticipation(record, position) };
      }
      case "forbidden":
        count("forbidden");
        throw new AppError("join.forbidden", "The organizer removed you from this event.");
      case "full":
      case undefined:
        count("full");
        throw new AppError("event.full", "The event and its waitlist are full.");
    }
  }

  function settleAll(batch: Waiter[], error: AppError): void {
    for (const waiter of batch) {
      count(error.code === "event.closed" ? "closed" : "not_found");
      waiter.reject(error);
    }
  }

  function count(outcome: string): void {
    deps.metrics.joins.inc({ outcome });
  }

  return {
    async drain() {
      while (draining.size > 0) await Promise.all(draining);
    },
    join(eventId, userId) {
      return new Promise<JoinOutcome>((resolve, reject) => {
        const queue = pending.get(eventId);
        if (queue !== undefined) {
          queue.push({ userId, resolve, reject });
          return;
        }
        pending.set(eventId, [{ userId, resolve, reject }]);
        // Joins arriving in the same turn of the event loop go into the first batch together.
        const run = new Promise<void>((resolve) => setImmediate(resolve)).then(() => drain(eventId));
        draining.add(run);
        void run.finally(() => draining.delete(run));
      });
    },
  };
}

/** Why nobody may join the event now, or null: drafts are unknown (404), cancelled or ended ones closed (410). */
export function closedError(event: { status: string; endsAt: Date }, now: Date): AppError | null {
  if (event.status === "draft") return eventNotFound();
  if (event.status === "cancelled") return new AppError("event.closed", "The event was cancelled.");
  if (event.endsAt.getTime() <= now.getTime()) return new AppError("event.closed", "The event has ended.");
  return null;
}

function eventNotFound(): AppError {
  return new AppError("event.not_found", "No such event.");
}

function eligibleIds(batch: Waiter[], organizerId: string): string[] {
  return batch.map((waiter) => waiter.userId).filter((userId) => userId !== organizerId);
}

function statusesOf(held: Map<string, ParticipationRecord>) {
  return new Map([...held].map(([userId, record]) => [userId, record.status]));
}

function placedOf(userIds: string[], decisions: JoinDecision[]) {
  return decisions.flatMap((decision, index) => {
    const userId = userIds[index];
    return decision.kind === "placed" && userId !== undefined
      ? [{ userId, status: decision.status, waitlistPosition: decision.waitlistPosition }]
      : [];
  });
}
