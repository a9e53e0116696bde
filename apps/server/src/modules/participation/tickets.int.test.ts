import { checkInResultSchema, type CheckInResult, ticketSchema } from "@turnout/contracts";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, TEST_SECRETS } from "../../../test/app.ts";
import { createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { createCall, createDraft, createPublished, outboxOf } from "../../../test/events.support.ts";
import { expectConsistent, participationOf } from "../../../test/participation.support.ts";
import { signTicketCode, verifyTicketCode } from "./ticket-codes.ts";

// Tickets and check-in through HTTP on a real database: who holds a ticket, the scan, and the counter.

let t: TestApp;
let organizer: CreatedUser;
const call = createCall(() => t);

beforeAll(async () => {
  t = await createTestApp();
  organizer = await createUser(t, { name: "Olga Organizer" });
});
afterAll(() => t.close());

async function users(count: number): Promise<CreatedUser[]> {
  return Promise.all(Array.from({ length: count }, () => createUser(t)));
}

async function join(eventId: string, who: CreatedUser): Promise<void> {
  const response = await call("POST", `/api/events/${eventId}/join`, who);
  if (response.statusCode !== 201) throw new Error(`join failed: ${response.statusCode} ${response.body}`);
}

async function ticketCode(eventId: string, who: CreatedUser): Promise<string> {
  const response = await call("GET", `/api/events/${eventId}/ticket`, who);
  if (response.statusCode !== 200) throw new Error(`ticket failed: ${response.statusCode} ${response.body}`);
  return ticketSchema.parse(response.json()).code;
}

function scan(eventId: string, code: string, who: CreatedUser = organizer) {
  return call("POST", `/api/events/${eventId}/checkins`, who, { code });
}

function resultOf(response: LightMyRequestResponse): CheckInResult {
  expect(response.statusCode).toBe(200);
  return checkInResultSchema.parse(response.json());
}

function refusal(response: LightMyRequestResponse): [number, string] {
  return [response.statusCode, errorCode(response)];
}

async function statsOf(eventId: string): Promise<unknown> {
  return (await call("GET", `/api/events/${eventId}/stats`)).json();
}

describe("ticket", () => {
  it("gives a confirmed participant a signed code naming the event and them, and its QR code", async () => {
    const event = await createPublished(t, organizer, { capacity: 5 });
    const [ana] = await users(1);
    if (ana === undefined) throw new Error("no user");
    await join(event.id, ana);
    const response = await call("GET", `/api/events/${event.id}/ticket`, ana);
    expect(response.statusCode).toBe(200);
    const ticket = ticketSchema.parse(response.json());
    expect(verifyTicketCode(TEST_SECRETS.TICKET_SECRET, ticket.code)).toEqual({
      eventId: event.id,
      userId: ana.user.id,
    });
    expect(ticket.qrSvg.startsWith("<svg") || ticket.qrSvg.startsWith("<?xml")).toBe(true);
    expect(ticket.qrSvg).toContain("svg");
    expect(ticket.qrSvg.trimEnd().endsWith("</svg>")).toBe(true);
    const again = ticketSchema.parse((await call("GET", `/api/events/${event.id}/ticket`, ana)).json());
    expect(again.code).toBe(ticket.code);
  });

  it("is 409 ticket.unavailable for the waitlisted, strangers, the organizer and the cancelled", async () => {
    const event = await createPublished(t, organizer, { capacity: 1 });
    const [seated, waiting, stranger, leaver] = await users(4);
    if (!seated || !waiting || !stranger || !leaver) throw new Error("no users");
    await join(event.id, seated);
    await join(event.id, waiting);
    const other = await createPublished(t, organizer, { capacity: 5 });
    await join(other.id, leaver);
    await call("DELETE", `/api/events/${other.id}/join`, leaver);
    const ticket = (eventId: string, who: CreatedUser) => call("GET", `/api/events/${eventId}/ticket`, who);
    expect(refusal(await ticket(event.id, waiting))).toEqual([409, "ticket.unavailable"]);
    expect(refusal(await ticket(event.id, stranger))).toEqual([409, "ticket.unavailable"]);
    expect(refusal(await ticket(event.id, organizer))).toEqual([409, "ticket.unavailable"]);
    expect(refusal(await ticket(other.id, leaver))).toEqual([409, "ticket.unavailable"]);
  });

  it("is 404 for unknown events and drafts, 401 without a token", async () => {
    const [guest] = await users(1);
    if (guest === undefined) throw new Error("no user");
    const draft = await createDraft(t, organizer);
    const unknown = "0193a1b2-0000-7000-8000-000000000000";
    expect(refusal(await call("GET", `/api/events/${draft.id}/ticket`, guest))).toEqual([
      404,
      "event.not_found",
    ]);
    expect(refusal(await call("GET", `/api/events/${unknown}/ticket`, guest))).toEqual([
      404,
      "event.not_found",
    ]);
    expect((await call("GET", `/api/events/${draft.id}/ticket`)).statusCode).toBe(401);
  });
});

describe("check-in", () => {
  it("checks in on the first scan, answers alreadyCheckedIn on later ones, and counts once", async () => {
    const event = await createPublished(t, organizer, { capacity: 3 });
    const [ana, ben] = await users(2);
    if (ana === undefined || ben === undefined) throw new Error("no users");
    await join(event.id, ana);
    await join(event.id, ben);
    const code = await ticketCode(event.id, ana);

    const first = resultOf(await scan(event.id, code));
    expect(first.alreadyCheckedIn).toBe(false);
    expect(first.participation).toMatchObject({
      eventId: event.id,
      userId: ana.user.id,
      status: "confirmed",
    });
    expect(first.participation.checkedInAt).toBeDefined();

    const second = resultOf(await scan(event.id, code));
    expect(second).toEqual({ participation: first.participation, alreadyCheckedIn: true });
    const mine = participationOf(await call("GET", `/api/events/${event.id}/participation`, ana));
    expect(mine.checkedInAt).toBe(first.participation.checkedInAt);

    expect(await statsOf(event.id)).toEqual({ capacity: 3, confirmed: 2, waitlisted: 0, checkedIn: 1 });
    expect(await expectConsistent(t, event.id)).toMatchObject({ counters: { checkedIn: 1 } });
    const stats = (await outboxOf(t, event.id)).filter((row) => row.type === "stats.changed.v1");
    expect(stats.at(-1)?.payload).toEqual({
      eventId: event.id,
      capacity: 3,
      confirmed: 2,
      waitlisted: 0,
      checkedIn: 1,
    });
    // Joins wrote one each, the first scan one more, the second none.
    expect(stats).toHaveLength(3);
  });

  it("lets a moderator scan; refuses other people (403), unknown events (404) and anonymous callers (401)", async () => {
    const event = await createPublished(t, organizer, { capacity: 3 });
    const [ana, ben] = await users(2);
    const moderator = await createUser(t, { role: "moderator" });
    if (ana === undefined || ben === undefined) throw new Error("no users");
    await join(event.id, ana);
    await join(event.id, ben);
    const code = await ticketCode(event.id, ana);
    expect(refusal(await scan(event.id, code, ben))).toEqual([403, "auth.forbidden"]);
    expect(refusal(await scan(event.id, code, ana))).toEqual([403, "auth.forbidden"]);
    const unknown = "0193a1b2-0000-7000-8000-000000000000";
    expect(refusal(await scan(unknown, code))).toEqual([404, "event.not_found"]);
    expect((await call("POST", `/api/events/${event.id}/checkins`, undefined, { code })).statusCode).toBe(
      401,
    );
    expect(await statsOf(event.id)).toMatchObject({ checkedIn: 0 });
    expect(resultOf(await scan(event.id, code, moderator)).alreadyCheckedIn).toBe(false);
    await expectConsistent(t, event.id);
  });

  it("refuses a code for another event, a forged code and garbage with 400 ticket.invalid", async () => {
    const event = await createPublished(t, organizer, { capacity: 3 });
    const other = await createPublished(t, organizer, { capacity: 3 });
    const [ana] = await users(1);
    if (ana === undefined) throw new Error("no user");
    await join(event.id, ana);
    await join(other.id, ana);
    const foreign = await ticketCode(other.id, ana);
    expect(refusal(await scan(event.id, foreign))).toEqual([400, "ticket.invalid"]);

    const code = await ticketCode(event.id, ana);
    const [prefix, ids, signature] = code.split(".");
    const flipped = `${prefix}.${ids}.${signature?.startsWith("A") ? "B" : "A"}${signature?.slice(1)}`;
    expect(refusal(await scan(event.id, flipped))).toEqual([400, "ticket.invalid"]);
    const otherSecret = signTicketCode("not-the-ticket-secret-not-the-ticket-00", {
      eventId: event.id,
      userId: ana.user.id,
    });
    expect(refusal(await scan(event.id, otherSecret))).toEqual([400, "ticket.invalid"]);
    expect(refusal(await scan(event.id, "hello"))).toEqual([400, "ticket.invalid"]);
    expect(refusal(await scan(event.id, ""))).toEqual([400, "validation.failed"]);

    expect(await statsOf(event.id)).toMatchObject({ checkedIn: 0 });
    await expectConsistent(t, event.id);
  });

  it("refuses the code of a holder who cancelled, or who never held a seat", async () => {
    const event = await createPublished(t, organizer, { capacity: 1 });
    const [ana, ben] = await users(2);
    if (ana === undefined || ben === undefined) throw new Error("no users");
    await join(event.id, ana);
    const code = await ticketCode(event.id, ana);
    await call("DELETE", `/api/events/${event.id}/join`, ana);
    expect(refusal(await scan(event.id, code))).toEqual([400, "ticket.invalid"]);
    // A genuinely signed code for someone without a participation, and for someone waitlisted.
    const nobody = signTicketCode(TEST_SECRETS.TICKET_SECRET, { eventId: event.id, userId: ben.user.id });
    expect(refusal(await scan(event.id, nobody))).toEqual([400, "ticket.invalid"]);
    const [seated] = await users(1);
    if (seated === undefined) throw new Error("no user");
    await join(event.id, seated);
    await join(event.id, ben);
    expect(refusal(await scan(event.id, nobody))).toEqual([400, "ticket.invalid"]);
    await expectConsistent(t, event.id);
  });

  it("takes a checked-in person off the counter when they cancel; rejoining needs a new check-in", async () => {
    const event = await createPublished(t, organizer, { capacity: 2 });
    const [ana, ben] = await users(2);
    if (ana === undefined || ben === undefined) throw new Error("no users");
    await join(event.id, ana);
    await join(event.id, ben);
    const code = await ticketCode(event.id, ana);
    resultOf(await scan(event.id, code));
    resultOf(await scan(event.id, await ticketCode(event.id, ben)));
    expect(await statsOf(event.id)).toMatchObject({ confirmed: 2, checkedIn: 2 });

    expect((await call("DELETE", `/api/events/${event.id}/join`, ana)).statusCode).toBe(200);
    expect(await statsOf(event.id)).toEqual({ capacity: 2, confirmed: 1, waitlisted: 0, checkedIn: 1 });
    await expectConsistent(t, event.id);

    await join(event.id, ana);
    const rejoined = participationOf(await call("GET", `/api/events/${event.id}/participation`, ana));
    expect(rejoined.checkedInAt).toBeUndefined();
    expect(resultOf(await scan(event.id, code)).alreadyCheckedIn).toBe(false);
    expect(await statsOf(event.id)).toMatchObject({ confirmed: 2, checkedIn: 2 });
    await expectConsistent(t, event.id);
  });

  it("counts each holder once under many parallel scans", async () => {
    const event = await createPublished(t, organizer, { capacity: 10 });
    const people = await users(5);
    for (const person of people) await join(event.id, person);
    const codes = await Promise.all(people.map((person) => ticketCode(event.id, person)));
    const scans = await Promise.all(
      codes.flatMap((code) => Array.from({ length: 10 }, () => scan(event.id, code))),
    );
    const results = scans.map(resultOf);
    expect(results.filter((result) => !result.alreadyCheckedIn)).toHaveLength(5);
    expect(await statsOf(event.id)).toMatchObject({ confirmed: 5, checkedIn: 5 });
    await expectConsistent(t, event.id);
  });
});
