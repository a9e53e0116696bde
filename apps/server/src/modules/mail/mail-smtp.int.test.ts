import { mailPreferencesSchema, type Event } from "@turnout/contracts";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { eventually } from "../../../test/photos.support.ts";
import { startSmtpPeer, type ReceivedMail, type SmtpPeer } from "../../../test/smtp-peer.ts";
import { mailOptionsOf, notificationsOptionsOf } from "../../roles/module-options.ts";
import { startWorkerRole } from "../../roles/worker.ts";
import { PermanentJobError } from "../../platform/jobs/job-queue.ts";
import { sendDueReminders } from "../notifications/index.ts";
import { createMailTransport } from "./mail-transport.ts";
import { queueMails } from "./mail.service.ts";
import { sendQueuedMail } from "./send-mail.job.ts";
import { signUnsubscribeToken } from "./unsubscribe-tokens.ts";

// Mail through the real worker role to a real SMTP peer (smtp-server on a random 127.0.0.1 port): every
// trigger's mail arrives once, in the person's language, with both bodies and a working one-click unsubscribe.

let peer: SmtpPeer;
let t: TestApp;
let worker: { stop(): Promise<void> };

beforeAll(async () => {
  peer = await startSmtpPeer();
  t = await createTestApp({
    env: { OUTBOX_POLL_MS: "100", SMTP_URL: peer.url, PUBLIC_URL: "https://turnout.example.test" },
  });
  worker = await startWorkerRole(t.deps);
});
afterAll(async () => {
  await worker.stop();
  await t.close();
  await peer.close();
});

function call(
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  url: string,
  who?: CreatedUser,
  payload?: object,
) {
  return t.app.inject({ method, url, payload, headers: who === undefined ? {} : bearer(who) });
}

function mailsTo(who: CreatedUser): ReceivedMail[] {
  return peer.received.filter((mail) => mail.envelopeTo.includes(who.user.email));
}

async function waitForMails(who: CreatedUser, count: number): Promise<ReceivedMail[]> {
  await eventually(() => Promise.resolve(mailsTo(who).length >= count), 20_000);
  return mailsTo(who);
}

/** Lets the relay, the consumer and the mail jobs catch up with everything written so far. */
async function settle(): Promise<void> {
  await eventually(async () => {
    const unsent = await t.deps.db.selectFrom("outbox").select("id").where("sent_at", "is", null).execute();
    const pending = await t.deps.db
      .selectFrom("mail_messages")
      .select("id")
      .where("status", "=", "pending")
      .execute();
    return unsent.length === 0 && pending.length === 0;
  }, 20_000);
}

async function join(who: CreatedUser, event: Event) {
  expect((await call("POST", `/api/events/${event.id}/join`, who)).statusCode).toBe(201);
}

function unsubscribeUrlOf(mail: ReceivedMail): string {
  const header = mail.headers.get("list-unsubscribe") ?? "";
  const url = /^<(https:\/\/turnout\.example\.test\/api\/mail\/unsubscribe\?token=[^>]+)>$/.exec(header)?.[1];
  if (url === undefined) throw new Error(`no unsubscribe link in ${header}`);
  return url.slice("https://turnout.example.test".length);
}

describe("mail over SMTP", () => {
  it("sends each trigger's mail once, in the person's language, with both bodies and one-click unsubscribe", async () => {
    const organizer = await createUser(t);
    const event = await createPublished(t, organizer, { capacity: 1, title: "Harbour Picnic" }, 2);
    const [anna, ben] = [await createUser(t, { name: "Anna" }), await createUser(t, { name: "Ben" })];
    // Anna's browser speaks German: her first preferences take the language from it.
    const saved = await t.app.inject({
      method: "PUT",
      url: "/api/me/preferences",
      headers: { ...bearer(anna), "accept-language": "de-DE,de;q=0.9,en;q=0.5" },
      payload: {
        emailOnJoin: true,
        emailOnPromotion: true,
        emailOnEventChange: true,
        emailOnAnnouncement: true,
        emailReminders: true,
      },
    });
    expect(saved.statusCode).toBe(200);
    expect(mailPreferencesSchema.parse(saved.json()).locale).toBe("de");

    await join(anna, event);
    await join(ben, event); // waitlisted: no mail
    const [confirmed] = await waitForMails(anna, 1);
    expect(confirmed?.headers.get("subject")).toBe("Du bist dabei: Harbour Picnic");
    expect(confirmed?.headers.get("content-language")).toBe("de");
    expect(confirmed?.headers.get("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    expect(confirmed?.headers.get("from")).toContain("no-reply@turnout.localhost");
    expect(confirmed?.headers.get("to")).toBe(`Anna <${anna.user.email}>`);
    expect(confirmed?.headers.get("message-id")).toMatch(/^<[0-9a-f-]{36}@turnout\.example\.test>$/);
    expect(confirmed?.text).toContain("Du hast einen bestätigten Platz bei Harbour Picnic.");
    expect(confirmed?.text).toContain(`Zur Veranstaltung: https://turnout.example.test/events/${event.id}`);
    expect(confirmed?.html).toContain('<html lang="de">');
    expect(confirmed?.html).toContain("Du hast einen bestätigten Platz bei Harbour Picnic.");
    const unsubscribeUrl = unsubscribeUrlOf(confirmed as ReceivedMail);
    expect(confirmed?.text).toContain(
      `Diese E-Mails abbestellen: https://turnout.example.test${unsubscribeUrl}`,
    );
    expect(confirmed?.html).toContain(
      `href="https://turnout.example.test${unsubscribeUrl.replaceAll("&", "&amp;")}"`,
    );

    // Anna leaves: Ben is promoted and hears of it in English (his language is unknown).
    expect((await call("DELETE", `/api/events/${event.id}/join`, anna)).statusCode).toBe(200);
    const [promoted] = await waitForMails(ben, 1);
    expect(promoted?.headers.get("subject")).toBe("A seat opened up: Harbour Picnic");
    expect(promoted?.headers.get("content-language")).toBe("en");
    expect(promoted?.text).toContain("A place became free and it is yours");
    expect(promoted?.html).toContain("A place became free and it is yours");

    const posted = await call("POST", `/api/events/${event.id}/announcements`, organizer, {
      message: "Bring <sunscreen> & a hat",
    });
    expect(posted.statusCode).toBe(201);
    const announcement = (await waitForMails(ben, 2))[1];
    expect(announcement?.headers.get("subject")).toBe("New announcement: Harbour Picnic");
    expect(announcement?.text).toContain("Bring <sunscreen> & a hat");
    expect(announcement?.html).toContain("Bring &lt;sunscreen&gt; &amp; a hat");

    expect(await sendDueReminders(notificationsOptionsOf(t.deps))).toBe(1);
    const reminder = (await waitForMails(ben, 3))[2];
    expect(reminder?.headers.get("subject")).toBe("Tomorrow: Harbour Picnic");
    expect(reminder?.text).toContain("Starts: ");

    const startsAt = new Date(Date.parse(event.startsAt) + 3_600_000).toISOString();
    const endsAt = new Date(Date.parse(event.endsAt) + 3_600_000).toISOString();
    expect((await call("PATCH", `/api/events/${event.id}`, organizer, { startsAt, endsAt })).statusCode).toBe(
      200,
    );
    const changed = (await waitForMails(ben, 4))[3];
    expect(changed?.headers.get("subject")).toBe("Changed: Harbour Picnic");

    expect(
      (await call("POST", `/api/events/${event.id}/cancel`, organizer, { reason: "Rain" })).statusCode,
    ).toBe(200);
    const cancelled = (await waitForMails(ben, 5))[4];
    expect(cancelled?.headers.get("subject")).toBe("Cancelled: Harbour Picnic");
    await settle();

    // Every domain message of the event delivered again, and its inbox records gone, so the consumer applies
    // them all a second time: still one mail per person and trigger.
    const before = peer.received.length;
    const rows = await t.deps.db.selectFrom("mail_messages").select("id").execute();
    const messageIds = (await t.deps.db.selectFrom("outbox").select("id").execute()).map((row) =>
      String(row.id),
    );
    expect(messageIds.length).toBeGreaterThan(0);
    await t.deps.db.deleteFrom("inbox").where("consumer", "=", "notifications-triggers").execute();
    await t.deps.db.updateTable("outbox").set({ sent_at: null }).execute();
    await settle();
    const reapplied = await t.deps.db
      .selectFrom("inbox")
      .select("message_id")
      .where("consumer", "=", "notifications-triggers")
      .execute();
    expect(reapplied.map((row) => row.message_id).sort()).toEqual(expect.arrayContaining(messageIds.sort()));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(peer.received.length).toBe(before);
    expect(await t.deps.db.selectFrom("mail_messages").select("id").execute()).toHaveLength(rows.length);
    expect(mailsTo(anna)).toHaveLength(1);
    expect(mailsTo(ben).map((mail) => mail.headers.get("x-turnout-kind"))).toEqual([
      "participation.promoted",
      "announcement",
      "reminder",
      "event.changed",
      "event.cancelled",
    ]);

    // One click in Anna's mail client: no login, her join mails stop, the rest stay on.
    const page = await t.app.inject({ method: "GET", url: unsubscribeUrl });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body).toContain('<html lang="de">');
    expect(page.body).toContain('<form method="post"');
    const oneClick = await t.app.inject({
      method: "POST",
      url: unsubscribeUrl,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "List-Unsubscribe=One-Click",
    });
    expect(oneClick.statusCode).toBe(200);
    expect(oneClick.body).toContain("Erledigt.");
    const preferences = mailPreferencesSchema.parse((await call("GET", "/api/me/preferences", anna)).json());
    expect(preferences).toEqual({
      emailOnJoin: false,
      emailOnPromotion: true,
      emailOnEventChange: true,
      emailOnAnnouncement: true,
      emailReminders: true,
      locale: "de",
    });
    const forged = await t.app.inject({ method: "POST", url: `${unsubscribeUrl.slice(0, -3)}AAA` });
    expect(forged.statusCode).toBe(400);
    expect(forged.json()).toMatchObject({ error: { code: "unsubscribe.invalid_token" } });

    // Her next join is notified in the app but not mailed.
    const next = await createPublished(t, organizer, { title: "Second" }, 48);
    await join(anna, next);
    await settle();
    const kinds = await t.deps.db
      .selectFrom("notifications")
      .select("kind")
      .where("user_id", "=", anna.user.id)
      .where("event_id", "=", next.id)
      .execute();
    expect(kinds).toEqual([{ kind: "participation.confirmed" }]);
    expect(mailsTo(anna)).toHaveLength(1);
  });

  it("writes the first mail in the language the browser asked for at sign-up, unless the person chose one", async () => {
    const organizer = await createUser(t);
    const event = await createPublished(t, organizer, { title: "Lakeside Run" });
    const signUp = async (name: string, acceptLanguage: string) => {
      const response = await t.app.inject({
        method: "POST",
        url: "/api/auth/register",
        headers: { "accept-language": acceptLanguage },
        payload: { email: `${name}-${event.id}@example.test`, name, password: "a long password 1" },
      });
      expect(response.statusCode).toBe(201);
      const body = response.json<{ user: { id: string; email: string }; accessToken: string }>();
      return { user: body.user, accessToken: body.accessToken, password: "" } as CreatedUser;
    };
    // Clara signs up in a Swiss German browser that prefers French, and joins at once: no preferences saved.
    const clara = await signUp("Clara", "fr-CH, fr;q=0.9, de;q=0.8, en;q=0.7");
    await join(clara, event);
    // Dan's browser asks for German too, but he chooses English before anything is sent.
    const dan = await signUp("Dan", "de");
    await settle();
    const chosen = await call("PUT", "/api/me/preferences", dan, {
      emailOnJoin: true,
      emailOnPromotion: true,
      emailOnEventChange: true,
      emailOnAnnouncement: true,
      emailReminders: true,
      locale: "en",
    });
    expect(mailPreferencesSchema.parse(chosen.json()).locale).toBe("en");
    await join(dan, event);

    const [toClara] = await waitForMails(clara, 1);
    expect(toClara?.headers.get("subject")).toBe("Du bist dabei: Lakeside Run");
    expect(toClara?.headers.get("content-language")).toBe("de");
    expect(toClara?.text).toContain("Du hast einen bestätigten Platz bei Lakeside Run.");
    const claraPreferences = await call("GET", "/api/me/preferences", clara);
    expect(mailPreferencesSchema.parse(claraPreferences.json())).toMatchObject({
      locale: "de",
      emailOnJoin: true,
      emailReminders: true,
    });
    const [toDan] = await waitForMails(dan, 1);
    expect(toDan?.headers.get("subject")).toBe("You're in: Lakeside Run");
    // The sign-up's message delivered again does not undo the choice.
    const registered = await t.deps.db
      .updateTable("outbox")
      .set({ sent_at: null })
      .where("type", "=", "user.registered.v1")
      .where("aggregate_id", "=", dan.user.id)
      .returning("id")
      .execute();
    expect(registered).toHaveLength(1);
    await t.deps.db
      .deleteFrom("inbox")
      .where(
        "message_id",
        "in",
        registered.map(({ id }) => String(id)),
      )
      .execute();
    await settle();
    expect(mailPreferencesSchema.parse((await call("GET", "/api/me/preferences", dan)).json()).locale).toBe(
      "en",
    );
    expect(mailsTo(dan)).toHaveLength(1);
  });

  it("takes a one-click unsubscribe posted as multipart/form-data, and refuses a token with anything added", async () => {
    const erik = await createUser(t, { name: "Erik" });
    const url = `/api/mail/unsubscribe?token=${signUnsubscribeToken(t.deps.secrets.urlSigningSecret, erik.user.id, "emailOnAnnouncement")}`;
    const boundary = "----OneClickBoundary7MA4YWxk";
    const oneClick = await t.app.inject({
      method: "POST",
      url,
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      payload: [
        `--${boundary}`,
        'Content-Disposition: form-data; name="List-Unsubscribe"',
        "",
        "One-Click",
        `--${boundary}--`,
        "",
      ].join("\r\n"),
    });
    expect(oneClick.statusCode).toBe(200);
    expect(oneClick.body).toContain("Done. You will no longer get organizers&#39; announcements by mail.");
    expect(
      mailPreferencesSchema.parse((await call("GET", "/api/me/preferences", erik)).json()),
    ).toMatchObject({
      emailOnAnnouncement: false,
      emailOnJoin: true,
    });
    // A link of someone whose account is gone: signed, but nobody to unsubscribe.
    const nobody = signUnsubscribeToken(t.deps.secrets.urlSigningSecret, randomUUID(), "emailOnJoin");
    const gone = await t.app.inject({ method: "POST", url: `/api/mail/unsubscribe?token=${nobody}` });
    expect(gone.statusCode).toBe(400);
    expect(await t.deps.db.selectFrom("mail_preferences").select("user_id").execute()).not.toContainEqual({
      user_id: nobody.split(".")[0],
    });
    for (const bent of [`${url}!`, `${url}.`, url.replace("emailOnAnnouncement", "emailOnJoin")]) {
      const refused = await t.app.inject({ method: "POST", url: bent });
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ error: { code: "unsubscribe.invalid_token" } });
    }
  });

  it("sends a mail once when its key is queued twice and several senders race for it", async () => {
    const who = await createUser(t);
    const organizer = await createUser(t);
    const event = await createPublished(t, organizer, { title: "Race" });
    const queue = () =>
      t.deps.db.transaction().execute((trx) =>
        queueMails(t.deps, trx, [
          {
            userId: who.user.id,
            kind: "announcement",
            key: `test:${who.user.id}`,
            params: { eventId: event.id, eventTitle: "Race", message: "once" },
          },
        ]),
      );
    expect(await queue()).toBe(1);
    expect(await queue()).toBe(0);
    const [row] = await t.deps.db
      .selectFrom("mail_messages")
      .select("id")
      .where("user_id", "=", who.user.id)
      .execute();
    const transport = createMailTransport(t.deps.config.mail);
    const ctx = mailOptionsOf(t.deps);
    const outcomes = await Promise.all([1, 2, 3].map(() => sendQueuedMail(ctx, transport, row?.id ?? "")));
    transport.close();
    await settle();
    expect(outcomes.filter((outcome) => outcome === "sent").length).toBeLessThanOrEqual(1);
    expect(mailsTo(who)).toHaveLength(1);
    expect(mailsTo(who)[0]?.text).toContain("once");
  });

  it("makes a mail whose stored params no longer parse dead at once, sending nothing", async () => {
    const who = await createUser(t);
    const id = randomUUID();
    await t.deps.db
      .insertInto("mail_messages")
      .values({
        id,
        key: `test:broken:${id}`,
        user_id: who.user.id,
        kind: "announcement",
        locale: "en",
        params: JSON.stringify({ eventTitle: 42 }),
        created_at: new Date(),
      })
      .execute();
    const transport = createMailTransport(t.deps.config.mail);
    await expect(sendQueuedMail(mailOptionsOf(t.deps), transport, id)).rejects.toBeInstanceOf(
      PermanentJobError,
    );
    transport.close();
    expect(mailsTo(who)).toHaveLength(0);
    const row = await t.deps.db.selectFrom("mail_messages").select("status").where("id", "=", id).execute();
    expect(row).toEqual([{ status: "pending" }]);
  });

  it("keeps preferences per person, validated, and private", async () => {
    const who = await createUser(t);
    expect((await call("GET", "/api/me/preferences")).statusCode).toBe(401);
    const defaults = await call("GET", "/api/me/preferences", who);
    expect(defaults.headers["cache-control"]).toBe("private, no-store");
    expect(defaults.json()).toEqual({
      emailOnJoin: true,
      emailOnPromotion: true,
      emailOnEventChange: true,
      emailOnAnnouncement: true,
      emailReminders: true,
      locale: null,
    });
    const bad = await call("PUT", "/api/me/preferences", who, { emailOnJoin: "yes" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: "validation.failed" } });
    const put = await call("PUT", "/api/me/preferences", who, {
      emailOnJoin: true,
      emailOnPromotion: false,
      emailOnEventChange: true,
      emailOnAnnouncement: false,
      emailReminders: true,
      locale: "en",
    });
    expect(put.statusCode).toBe(200);
    expect((await call("GET", "/api/me/preferences", who)).json()).toMatchObject({
      emailOnPromotion: false,
      emailOnAnnouncement: false,
      locale: "en",
    });
  });
});
