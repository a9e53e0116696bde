import type { ParticipationStatus } from "@turnout/contracts";
import { describe, expect, it } from "vitest";
import { answerJoins } from "./admission-rules.ts";

interface Place {
  status: ParticipationStatus;
}
const confirmed: Place = { status: "confirmed" };
const waitlisted: Place = { status: "waitlisted" };
const removed: Place = { status: "removed" };
const cancelled: Place = { status: "cancelled" };

describe("answerJoins", () => {
  it("answers new places, then `already` to a repeat in the same batch", () => {
    const placed = new Map<string, { record: Place; waitlistPosition: number | null }>([
      ["a", { record: confirmed, waitlistPosition: null }],
      ["b", { record: waitlisted, waitlistPosition: 3 }],
    ]);
    expect(answerJoins(["a", "b", "a"], "org", placed, new Map())).toEqual([
      { kind: "placed", record: confirmed, waitlistPosition: null },
      { kind: "placed", record: waitlisted, waitlistPosition: 3 },
      { kind: "already", record: confirmed, waitlistPosition: null },
    ]);
  });

  it("tells holders they hold, refuses the organizer and the removed, and the rest are full", () => {
    const held = new Map<string, Place>([
      ["c", confirmed],
      ["w", waitlisted],
      ["r", removed],
      ["x", cancelled],
    ]);
    expect(answerJoins(["c", "w", "r", "x", "org", "new"], "org", new Map(), held)).toEqual([
      { kind: "already", record: confirmed },
      { kind: "already", record: waitlisted },
      { kind: "forbidden", reason: "removed" },
      { kind: "full" },
      { kind: "forbidden", reason: "organizer" },
      { kind: "full" },
    ]);
  });
});
