import { describe, expect, it } from "vitest";
import { signTicketCode, verifyTicketCode } from "./ticket-codes.ts";

const SECRET = "unit-ticket-secret-unit-ticket-secret-00";
const HOLDER = {
  eventId: "0193a1b2-c3d4-7e5f-8a6b-1c2d3e4f5a6b",
  userId: "0193a1b2-0000-7000-8000-00000000beef",
};
const OTHER_ID = "0193a1b2-1111-7111-8111-111111111111";

// Splits a code into its three parts; throws if it has another shape.
function partsOf(code: string): [string, string, string] {
  const [prefix, ids, signature, extra] = code.split(".");
  if (prefix === undefined || ids === undefined || signature === undefined || extra !== undefined)
    throw new Error(`unexpected code shape: ${code}`);
  return [prefix, ids, signature];
}

// The same base64url text with its first character changed to another valid one.
function flipFirst(text: string): string {
  return (text.startsWith("A") ? "B" : "A") + text.slice(1);
}

describe("ticket codes", () => {
  it("round-trips: the code names the event and the user, is versioned, compact and stable", () => {
    const code = signTicketCode(SECRET, HOLDER);
    expect(code.startsWith("T1.")).toBe(true);
    expect(code).toMatch(/^T1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(code.length).toBe(90);
    expect(verifyTicketCode(SECRET, code)).toEqual(HOLDER);
    expect(signTicketCode(SECRET, HOLDER)).toBe(code);
  });

  it("answers ids in lower case, as the database prints them", () => {
    const upper = { eventId: HOLDER.eventId.toUpperCase(), userId: HOLDER.userId.toUpperCase() };
    expect(verifyTicketCode(SECRET, signTicketCode(SECRET, upper))).toEqual(HOLDER);
  });

  it("refuses a code whose event or user was swapped for another's", () => {
    const [, , signature] = partsOf(signTicketCode(SECRET, HOLDER));
    const [, otherEvent] = partsOf(signTicketCode(SECRET, { ...HOLDER, eventId: OTHER_ID }));
    const [, otherUser] = partsOf(signTicketCode(SECRET, { ...HOLDER, userId: OTHER_ID }));
    expect(verifyTicketCode(SECRET, `T1.${otherEvent}.${signature}`)).toBeNull();
    expect(verifyTicketCode(SECRET, `T1.${otherUser}.${signature}`)).toBeNull();
  });

  it("refuses a tampered signature, ids or prefix", () => {
    const [prefix, ids, signature] = partsOf(signTicketCode(SECRET, HOLDER));
    expect(verifyTicketCode(SECRET, `${prefix}.${ids}.${flipFirst(signature)}`)).toBeNull();
    expect(verifyTicketCode(SECRET, `${prefix}.${flipFirst(ids)}.${signature}`)).toBeNull();
    expect(verifyTicketCode(SECRET, `T2.${ids}.${signature}`)).toBeNull();
    expect(verifyTicketCode(SECRET, `${prefix}.${ids}.${signature.slice(0, -1)}`)).toBeNull();
    expect(verifyTicketCode(SECRET, `${prefix}.${ids}.${signature}.x`)).toBeNull();
  });

  it("refuses a code signed with another secret", () => {
    const code = signTicketCode("another-secret-another-secret-another-00", HOLDER);
    expect(verifyTicketCode(SECRET, code)).toBeNull();
  });

  it("refuses garbage without throwing", () => {
    for (const garbage of ["", "T1.", "T1..", "T1.a.b", "not a code", "T1.!!!!.????", ".".repeat(40)]) {
      expect(verifyTicketCode(SECRET, garbage)).toBeNull();
    }
    expect(() => signTicketCode(SECRET, { ...HOLDER, eventId: "event-1" })).toThrow(/UUID/);
  });
});
