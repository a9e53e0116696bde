import { myParticipationPageSchema, participantPageSchema } from "@turnout/contracts";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { createCall, createDraft, createPublished } from "../../../test/events.support.ts";

// The organizer's participant lists and a person's own participations: order, positions, pages, access.

let t: TestApp;
let organizer: CreatedUser;
const call = createCall(() => t);

beforeAll(async () => {
  t = await createTestApp();
  organizer = await createUser(t, { name: "Olga Organizer" });
});
afterAll(() => t.close());

async function users(count: number): Promise<CreatedUser[]> {
  const made: CreatedUser[] = [];
  for (let index = 0; index < count; index++) made.push(await createUser(t));
  return made;
}

async function join(eventId: string, who: CreatedUser) {
  const response = await call("POST", `/api/events/${eventId}/join`, who);
  if (response.statusCode !== 201) throw new Error(`join failed: ${response.statusCode} ${response.body}`);
}

const pageOf = (response: LightMyRequestResponse) => participantPageSchema.parse(response.json());

describe("participants", () => {
  it("lists the waitlist in queue order with positions, page by page, while people keep joining", async () => {
    const event = await createPublished(t, organizer, { capacity: 1 });
    const people = await users(6);
    for (const person of people) await join(event.id, person);
    const url = `/api/events/${event.id}/participants?status=waitlisted&limit=2`;
    const first = pageOf(await call("GET", url, organizer));
    const late = await users(1);
    const latecomer = late[0];
    if (latecomer === undefined) throw new Error("no user");
    await join(event.id, latecomer);
    const seen = [...first.items];
    let cursor = first.nextCursor;
    while (cursor !== null) {
      const page = pageOf(await call("GET", `${url}&cursor=${cursor}`, organizer));
      seen.push(...page.items);
      cursor = page.nextCursor;
    }
    expect(seen.map((item) => item.userId)).toEqual([...people.slice(1), latecomer].map((p) => p.user.id));
    expect(seen.map((item) => item.waitlistPosition)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seen[0]?.user).toEqual({ id: people[1]?.user.id, name: people[1]?.user.name });

    const confirmed = pageOf(await call("GET", `/api/events/${event.id}/participants`, organizer));
    expect(confirmed.items.map((item) => [item.userId, item.status, item.waitlistPosition])).toEqual([
      [people[0]?.user.id, "confirmed", null],
    ]);
  });

  it("leaves out people who cancelled", async () => {
    const event = await createPublished(t, organizer, { capacity: 5 });
    const [stays, leaves] = await users(2);
    if (stays === undefined || leaves === undefined) throw new Error("no users");
    await join(event.id, stays);
    await join(event.id, leaves);
    await call("DELETE", `/api/events/${event.id}/join`, leaves);
    const page = pageOf(
      await call("GET", `/api/events/${event.id}/participants?status=confirmed`, organizer),
    );
    expect(page.items.map((item) => item.userId)).toEqual([stays.user.id]);
  });

  it("is for the organizer and moderators+: others 403, anonymous 401, drafts 404 to strangers, bad cursor 400", async () => {
    const event = await createPublished(t, organizer);
    const moderator = await createUser(t, { role: "moderator" });
    const admin = await createUser(t, { role: "admin" });
    const [stranger] = await users(1);
    if (stranger === undefined) throw new Error("no user");
    const url = `/api/events/${event.id}/participants`;
    for (const who of [organizer, moderator, admin])
      expect((await call("GET", url, who)).statusCode).toBe(200);
    const forbidden = await call("GET", url, stranger);
    expect([forbidden.statusCode, errorCode(forbidden)]).toEqual([403, "auth.forbidden"]);
    expect((await call("GET", url)).statusCode).toBe(401);
    const draft = await createDraft(t, organizer);
    const hidden = await call("GET", `/api/events/${draft.id}/participants`, stranger);
    expect([hidden.statusCode, errorCode(hidden)]).toEqual([404, "event.not_found"]);
    const bad = await call("GET", `${url}?cursor=bm90LWEtY3Vyc29y`, organizer);
    expect([bad.statusCode, errorCode(bad)]).toEqual([400, "validation.failed"]);
  });
});

describe("my participations", () => {
  it("lists the caller's places, latest first, with their events; filters by status; pages", async () => {
    const [me] = await users(1);
    if (me === undefined) throw new Error("no user");
    const full = await createPublished(t, organizer, { capacity: 1, title: "Full house" });
    const [holder] = await users(1);
    if (holder === undefined) throw new Error("no user");
    await join(full.id, holder);
    const open = await createPublished(t, organizer, { title: "Open doors" });
    const gone = await createPublished(t, organizer, { title: "Changed my mind" });
    await join(full.id, me);
    await join(open.id, me);
    await join(gone.id, me);
    await call("DELETE", `/api/events/${gone.id}/join`, me);

    const all = myParticipationPageSchema.parse((await call("GET", "/api/me/participations", me)).json());
    expect(all.items.map((item) => [item.event.title, item.status, item.waitlistPosition])).toEqual([
      ["Changed my mind", "cancelled", null],
      ["Open doors", "confirmed", null],
      ["Full house", "waitlisted", 1],
    ]);
    const waiting = myParticipationPageSchema.parse(
      (await call("GET", "/api/me/participations?status=waitlisted", me)).json(),
    );
    expect(waiting.items.map((item) => item.event.id)).toEqual([full.id]);
    const first = myParticipationPageSchema.parse(
      (await call("GET", "/api/me/participations?limit=2", me)).json(),
    );
    expect(first.items).toHaveLength(2);
    const rest = myParticipationPageSchema.parse(
      (await call("GET", `/api/me/participations?limit=2&cursor=${first.nextCursor ?? ""}`, me)).json(),
    );
    expect(rest.items.map((item) => item.event.title)).toEqual(["Full house"]);
    expect(rest.nextCursor).toBeNull();
    expect((await call("GET", "/api/me/participations")).statusCode).toBe(401);
  });
});
