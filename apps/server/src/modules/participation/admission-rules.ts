import type { ParticipationStatus } from "@turnout/contracts";

/*
 * Who gets what, decided for a whole batch of joins at once, in arrival order. Pure: the admission queue
 * feeds it the event's counters (read under the event's lock) and the places the joiners already hold.
 */

export interface SeatState {
  capacity: number | null;
  /** null = unlimited, 0 = no waitlist. */
  waitlistLimit: number | null;
  confirmed: number;
  waitlisted: number;
}

export type JoinDecision =
  /** A new place; `waitlistPosition` is set for the waitlisted. */
  | { kind: "placed"; status: "confirmed" | "waitlisted"; waitlistPosition: number | null }
  /** Holds a confirmed or waitlisted place already (maybe from earlier in this very batch). */
  | { kind: "already" }
  | { kind: "full" }
  /** Removed by the organizer: may not come back. */
  | { kind: "forbidden" };

/**
 * Decides each join in order and returns the decisions and the counters after them. `held` maps a user
 * to the status of the place they have now; a user twice in `userIds` is placed at most once.
 */
export function decideJoins(
  state: SeatState,
  userIds: readonly string[],
  held: ReadonlyMap<string, ParticipationStatus>,
): { decisions: JoinDecision[]; after: SeatState } {
  let { confirmed, waitlisted } = state;
  const placedNow = new Set<string>();
  const decisions = userIds.map((userId): JoinDecision => {
    const status = held.get(userId);
    if (placedNow.has(userId) || status === "confirmed" || status === "waitlisted")
      return { kind: "already" };
    if (status === "removed") return { kind: "forbidden" };
    // A free seat and a waitlist never coexist: freeing a seat promotes the waitlist head at once.
    if (state.capacity === null || confirmed < state.capacity) {
      confirmed++;
      placedNow.add(userId);
      return { kind: "placed", status: "confirmed", waitlistPosition: null };
    }
    if (state.waitlistLimit === null || waitlisted < state.waitlistLimit) {
      waitlisted++;
      placedNow.add(userId);
      return { kind: "placed", status: "waitlisted", waitlistPosition: waitlisted };
    }
    return { kind: "full" };
  });
  return { decisions, after: { ...state, confirmed, waitlisted } };
}

/** Whether no one new can get a place, seat or waitlist. */
export function isFull(state: SeatState): boolean {
  return (
    state.capacity !== null &&
    state.confirmed >= state.capacity &&
    state.waitlistLimit !== null &&
    state.waitlisted >= state.waitlistLimit
  );
}
