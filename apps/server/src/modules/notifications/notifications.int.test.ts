import {
  announcementPageSchema,
  announcementSchema,
  notificationPageSchema,
  type Event,
  type Notification,
} from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { eventually } from "../../../test/photos.support.ts";
import { startWorkerRole } from "../../roles/worker.ts";

// Announcements and notifications through the real worker role: the outbox relay publishes on the bus, the
// triggers consumer applies each message once through the inbox.

let t: TestApp;
let worker: { stop(): Promise<void> };

beforeAll(async () => {
  t = await createTestApp({ env: { OUTBOX_POLL_MS: "100" } });
  worker = await startWorkerRole(t.deps);
});
afterAll(async () => {
  await worker.stop();
  await t.close();
});

async function call(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  url: string,
  who?: CreatedUser,
  payload?: object,
) {
  return t.app.inject({ method, url, payload, headers: who === undefined ? {} : bearer(who) });
}

async function notificationsOf(who: CreatedUser, query = ""): Promise<Notification[]> {
  const response = await call("GET", `/api/me/notifications${query}`, who);
  expect(response.statusCode).toBe(200);
  return notificationPageSchema.parse(response.json()).items;
}

async function waitForKinds(who: CreatedUser, count: number): Promise<Notification[]> {
  await eventually(async () => (await notificationsOf(who)).length >= count);
  return notificationsOf(who);
}

/** Lets the relay and the consumer catch up with everything written so far. */
async function settle(): Promise<void> {
  await eventually(async () => {
    const unsent = await t.deps.db.selectFrom("outbox").select("id").where("sent_at", "is", null).execute();
    return unsent.length === 0;
  });
}

async function joined(who: CreatedUser, event: Event) {
  const response = await call("POST", `/api/events/${event.id}/join`, who);
  expect(response.statusCode).toBe(201);
}

describe("announcements", () => {
  it("are posted by the organizer, listed newest first, and reach every confirmed participant once", async () => {
    const organizer = await createUser(t);
    const event = await createPublished(t, organizer, { capacity: 2 });
    const [first, second, waiting] = [await createUser(t), await createUser(t), await createUser(t)];
    for (const who of [first, second, waiting]) await joined(who, event);
    await settle();

    expect(
      (await call("POST", `/api/events/${event.id}/announcements`, first, { message: "hi" })).statusCode,
    ).toBe(403);
    expect(
      (await call("POST", `/api/events/${event.id}/announcements`, organizer, { message: "" })).statusCode,
    ).toBe(400);
    const posted = await call("POST", `/api/events/${event.id}/announcements`, organizer, {
      message: "Doors at 7",
    });
    expect(posted.statusCode).toBe(201);
    const announcement = announcementSchema.parse(posted.json());
    await call("POST", `/api/events/${event.id}/announcements`, organizer, { message: "Bring a friend" });

    const listed = announcementPageSchema.parse(
      (await call("GET", `/api/events/${event.id}/announcements`)).json(),
    );
    expect(listed.items.map((item) => item.message)).toEqual(["Bring a friend", "Doors at 7"]);
    // The relay having sent them does not mean the consumer has applied them yet.
    const announcementsOf = async (who: CreatedUser) =>
      (await notificationsOf(who)).filter((item) => item.kind === "announcement");
    for (const who of [first, second]) await eventually(async () => (await announcementsOf(who)).length >= 2);
    await settle();

    for (const who of [first, second]) {
      const announcements = await announcementsOf(who);
      expect(announcements.map((item) => item.body)).toEqual(["Bring a friend", "Doors at 7"]);
    }
    expect((await notificationsOf(waiting)).filter((item) => item.kind === "announcement")).toEqual([]);
    expect(await notificationsOf(organizer)).toEqual([]);

    const outbox = await t.deps.db
      .selectFrom("outbox")
      .select(["type", "aggregate_id", "payload"])
      .where("type", "=", "announcement.posted.v1")
      .where("aggregate_id", "=", event.id)
      // In the order written: the relay's `sent_at` updates move rows, so a scan's order is not it.
      .orderBy("id")
      .execute();
    expect(outbox[0]?.payload).toEqual({ announcement });

    // Delivered again (the relay lost its `sent` mark): still one notification per person.
    await t.deps.db
      .updateTable("outbox")
      .set({ sent_at: null })
      .where("aggregate_id", "=", event.id)
      .execute();
    await settle();
    for (const who of [first, second]) {
      expect((await notificationsOf(who)).filter((item) => item.kind === "announcement")).toHaveLength(2);
    }
  });
});

describe("triggers", () => {
  it("tell people they are in, promoted, moved and cancelled, each once", async () => {
    const organizer = await createUser(t);
    const event = await createPublished(t, organizer, { capacity: 1 });
    const seated = await createUser(t);
    const waiting = await createUser(t);
    await joined(seated, event);
    await joined(waiting, event);
    expect((await waitForKinds(seated, 1)).map((item) => item.kind)).toEqual(["participation.confirmed"]);

    expect((await call("DELETE", `/api/events/${event.id}/join`, seated)).statusCode).toBe(200);
    expect((await waitForKinds(waiting, 1)).map((item) => item.kind)).toEqual(["participation.promoted"]);

    const retitled = await call("PATCH", `/api/events/${event.id}`, organizer, { title: "New name" });
    expect(retitled.statusCode).toBe(200);
    const startsAt = new Date(Date.parse(event.startsAt) + 3_600_000).toISOString();
    const endsAt = new Date(Date.parse(event.endsAt) + 3_600_000).toISOString();
    expect((await call("PATCH", `/api/events/${event.id}`, organizer, { startsAt, endsAt })).statusCode).toBe(
      200,
    );
    expect((await waitForKinds(waiting, 2)).map((item) => item.kind)).toEqual([
      "event.changed",
      "participation.promoted",
    ]);

    expect(
      (await call("POST", `/api/events/${event.id}/cancel`, organizer, { reason: "rain" })).statusCode,
    ).toBe(200);
    await waitForKinds(waiting, 3);
    await settle();
    expect((await notificationsOf(waiting)).map((item) => item.kind)).toEqual([
      "event.cancelled",
      "event.changed",
      "participation.promoted",
    ]);
    // The one who left hears about nothing after leaving.
    expect((await notificationsOf(seated)).map((item) => item.kind)).toEqual(["participation.confirmed"]);
  });
});

describe("the caller's notifications", () => {
  it("have an unread state the caller marks read, by id or all at once", async () => {
    const organizer = await createUser(t);
    const reader = await createUser(t);
    const other = await createUser(t);
    for (let index = 0; index < 3; index++) {
      const event = await createPublished(t, organizer);
      await joined(reader, event);
      await joined(other, event);
    }
    const items = await waitForKinds(reader, 3);
    await waitForKinds(other, 3);
    expect(items.every((item) => item.readAt === null)).toBe(true);

    const marked = await call("POST", "/api/me/notifications/read", reader, { ids: [items[0]?.id] });
    expect(marked.json()).toEqual({ marked: 1 });
    expect((await notificationsOf(reader, "?unread=true")).map((item) => item.id)).toEqual([
      items[1]?.id,
      items[2]?.id,
    ]);
    const page = notificationPageSchema.parse(
      (await call("GET", "/api/me/notifications?limit=2", reader)).json(),
    );
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).not.toBeNull();

    // Someone else's ids change nothing of theirs.
    const foreign = await call("POST", "/api/me/notifications/read", other, { ids: [items[1]?.id] });
    expect(foreign.json()).toEqual({ marked: 0 });
    expect((await call("POST", "/api/me/notifications/read", reader, {})).json()).toEqual({ marked: 2 });
    expect(await notificationsOf(reader, "?unread=true")).toEqual([]);
    expect(await notificationsOf(other, "?unread=true")).toHaveLength(3);
    expect((await call("GET", "/api/me/notifications")).statusCode).toBe(401);

    const created = await t.deps.db
      .selectFrom("outbox")
      .select(["aggregate_id", "payload"])
      .where("type", "=", "notification.created.v1")
      .where("aggregate_id", "=", reader.user.id)
      .execute();
    expect(created).toHaveLength(3);
    expect(created[0]?.payload).toMatchObject({
      userId: reader.user.id,
      notification: { kind: "participation.confirmed" },
    });
  });
});
