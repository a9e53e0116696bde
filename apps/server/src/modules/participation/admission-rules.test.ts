import { describe, expect, it } from "vitest";
import { decideJoins, isFull } from "./admission-rules.ts";

const open = { capacity: 2, waitlistLimit: 1, confirmed: 0, waitlisted: 0 };

describe("decideJoins", () => {
  it("fills seats, then the waitlist, then refuses, in arrival order", () => {
    const { decisions, after } = decideJoins(open, ["a", "b", "c", "d"], new Map());
    expect(decisions).toEqual([
      { kind: "placed", status: "confirmed", waitlistPosition: null },
      { kind: "placed", status: "confirmed", waitlistPosition: null },
      { kind: "placed", status: "waitlisted", waitlistPosition: 1 },
      { kind: "full" },
    ]);
    expect(after).toEqual({ ...open, confirmed: 2, waitlisted: 1 });
    expect(isFull(after)).toBe(true);
  });

  it("places a user named twice once, and never those who hold a place or were removed", () => {
    const held = new Map([
      ["held", "waitlisted" as const],
      ["gone", "removed" as const],
      ["back", "cancelled" as const],
    ]);
    const { decisions, after } = decideJoins(open, ["a", "a", "held", "gone", "back"], held);
    expect(decisions.map((decision) => decision.kind)).toEqual([
      "placed",
      "already",
      "already",
      "forbidden",
      "placed",
    ]);
    expect(after.confirmed).toBe(2);
  });

  it("treats null capacity and null waitlist limit as unlimited", () => {
    const unlimited = { capacity: null, waitlistLimit: null, confirmed: 5, waitlisted: 0 };
    expect(decideJoins(unlimited, ["a"], new Map()).decisions[0]).toMatchObject({ status: "confirmed" });
    const endlessWaitlist = { capacity: 1, waitlistLimit: null, confirmed: 1, waitlisted: 1_000 };
    expect(decideJoins(endlessWaitlist, ["a"], new Map()).decisions[0]).toEqual({
      kind: "placed",
      status: "waitlisted",
      waitlistPosition: 1_001,
    });
    expect(isFull(endlessWaitlist)).toBe(false);
  });
});
