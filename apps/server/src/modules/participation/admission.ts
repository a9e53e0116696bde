import type { Participation } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../platform/errors.ts";
import { answerJoins, type JoinAnswer } from "./admission-rules.ts";
import * as repo from "./participation.repo.ts";
import type { AdmissionResult, ParticipationRecord } from "./participation.repo.ts";

/*
 * Admission: every join of one event that arrives while the previous batch of that event is being written
 * waits and goes into the next batch, decided in arrival order by one call of admit_joins_v3 on the locked
 * admission row (ADR 0005, 0011). Under a crowd one round trip admits hundreds; alone, a join waits for nothing but
 * its own. Two processes each batch their own joins; the row lock serialises their batches, so seats stay
 * exact.
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

// Bounds one statement's size; a bigger crowd simply takes several batches.
const MAX_BATCH = 1_000;

type AdmissionDeps = Pick<Deps, "db" | "clock" | "metrics">;

/** The per-process queue of joins; `onChange` hears of every event that gave places. */
export function createAdmissionQueue(
  deps: AdmissionDeps,
  onChange: (eventId: string) => void = () => undefined,
): AdmissionQueue {
  const pending = new Map<string, Waiter[]>();
  const running = new Set<Promise<void>>();

  // Runs the event's batches one after another. The next batch is sent as soon as the previous one is
  // decided, before its joiners are answered (answer() waits a turn of the event loop for that), so writing
  // hundreds of responses never delays the database.
  async function drainEvent(eventId: string): Promise<void> {
    let batch = takeBatch(eventId);
    let decision = batch.length === 0 ? undefined : decide(eventId, batch);
    while (decision !== undefined) {
      const decided = await decision;
      const answered = batch;
      batch = takeBatch(eventId);
      decision = batch.length === 0 ? undefined : decide(eventId, batch);
      track(answer(eventId, answered, decided));
    }
    pending.delete(eventId);
  }

  function track(work: Promise<void>): void {
    running.add(work);
    void work.finally(() => running.delete(work));
  }

  function takeBatch(eventId: string): Waiter[] {
    return pending.get(eventId)?.splice(0, MAX_BATCH) ?? [];
  }

  // Never rejects: a failed call becomes the answer of every joiner in the batch.
  async function decide(eventId: string, batch: Waiter[]): Promise<AdmissionResult | undefined | Error> {
    const userIds = batch.map((waiter) => waiter.userId);
    try {
      return await repo.admitJoins(deps.db, eventId, userIds, deps.clock.now());
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  async function answer(
    eventId: string,
    batch: Waiter[],
    result: AdmissionResult | undefined | Error,
  ): Promise<void> {
    // Answering a batch of 1,000 takes longer than deciding the next one. Started at once, its chains of
    // microtasks would run ahead of the few that send the next batch's call, which would then wait for
    // every answer to be written (ADR 0005, 2026-12-06 "after the storm"); on the next turn it has gone.
    await nextTurn();
    if (result instanceof Error) {
      for (const waiter of batch) waiter.reject(result);
      return;
    }
    const refusal = refusalOf(result);
    if (result === undefined || refusal !== null) {
      const outcome = refusal?.code === "event.closed" ? "closed" : "not_found";
      deps.metrics.joins.inc({ outcome }, batch.length);
      for (const waiter of batch) waiter.reject(refusal ?? eventNotFound());
      return;
    }
    if (result.placed.length > 0) onChange(eventId);
    const placed = new Map(result.placed.map((place) => [place.record.userId, place]));
    const held = new Map(result.held.map((record) => [record.userId, record]));
    const userIds = batch.map((waiter) => waiter.userId);
    const answers = answerJoins(userIds, result.organizerId, placed, held);
    const outcomes = new Map<string, number>();
    const lookups = batch.map(async (waiter, index) => {
      const answer = answers[index] ?? { kind: "full" };
      const outcome = answer.kind === "placed" ? answer.record.status : answer.kind;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      try {
        waiter.resolve(await outcomeOf(eventId, answer));
      } catch (error) {
        waiter.reject(error);
      }
    });
    for (const [outcome, count] of outcomes) deps.metrics.joins.inc({ outcome }, count);
    await Promise.all(lookups);
  }

  // Only a waitlisted place held from before needs a query (its position); every other answer is at hand.
  async function outcomeOf(eventId: string, answer: JoinAnswer<ParticipationRecord>): Promise<JoinOutcome> {
    switch (answer.kind) {
      case "placed":
        return { isNew: true, participation: repo.toParticipation(answer.record, answer.waitlistPosition) };
      case "already": {
        const { record } = answer;
        const position =
          answer.waitlistPosition ??
          (record.status === "waitlisted"
            ? await repo.waitlistPosition(deps.db, eventId, record.queueNumber)
            : null);
        return { isNew: false, participation: repo.toParticipation(record, position) };
      }
      case "forbidden":
        throw new AppError(
          "join.forbidden",
          answer.reason === "organizer"
            ? "Organizers do not join their own events."
            : "The organizer removed you from this event.",
        );
      case "full":
        throw new AppError("event.full", "The event and its waitlist are full.");
    }
  }

  return {
    async drain() {
      while (running.size > 0) await Promise.all(running);
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
        track(nextTurn().then(() => drainEvent(eventId)));
      });
    },
  };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Why nobody may join: drafts are unknown (404), cancelled (closed) or ended events closed (410); else null. */
function refusalOf(result: AdmissionResult | undefined): AppError | null {
  if (result === undefined || result.state === "draft") return eventNotFound();
  if (result.state === "closed") return new AppError("event.closed", "The event was cancelled.");
  if (!result.isOpen) return new AppError("event.closed", "The event has ended.");
  return null;
}

function eventNotFound(): AppError {
  return new AppError("event.not_found", "No such event.");
}
