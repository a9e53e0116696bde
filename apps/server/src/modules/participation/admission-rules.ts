import type { ParticipationStatus } from "@turnout/contracts";

/*
 * What each joiner of a batch is told, once admit_joins_v2 has decided the batch (who got a place is decided
 * in the database, in arrival order; see ADR 0005). Pure, so every case is a unit test.
 */

export type JoinAnswer<R> =
  /** A new place (201). */
  | { kind: "placed"; record: R; waitlistPosition: number | null }
  /** Holds a confirmed or waitlisted place (200), maybe given earlier in this very batch. */
  | { kind: "already"; record: R; waitlistPosition?: number | null }
  | { kind: "forbidden"; reason: "organizer" | "removed" }
  | { kind: "full" };

/** Answers each joiner, in the batch's order; a user named twice gets the place once, then `already`. */
export function answerJoins<R extends { status: ParticipationStatus }>(
  userIds: readonly string[],
  organizerId: string,
  placed: ReadonlyMap<string, { record: R; waitlistPosition: number | null }>,
  held: ReadonlyMap<string, R>,
): JoinAnswer<R>[] {
  const answered = new Set<string>();
  return userIds.map((userId): JoinAnswer<R> => {
    const isFirst = !answered.has(userId);
    answered.add(userId);
    if (userId === organizerId) return { kind: "forbidden", reason: "organizer" };
    const place = placed.get(userId);
    if (place !== undefined) {
      return isFirst
        ? { kind: "placed", ...place }
        : { kind: "already", record: place.record, waitlistPosition: place.waitlistPosition };
    }
    const record = held.get(userId);
    if (record?.status === "confirmed" || record?.status === "waitlisted") return { kind: "already", record };
    if (record?.status === "removed") return { kind: "forbidden", reason: "removed" };
    return { kind: "full" };
  });
}
