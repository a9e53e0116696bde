import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mailMessagePageSchema } from "@turnout/contracts";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createPublished } from "../../../test/events.support.ts";
import { bearer, createUser } from "../../../test/factories.ts";
import { eventually } from "../../../test/photos.support.ts";
import { parseMail, startSmtpPeer, type SmtpPeer } from "../../../test/smtp-peer.ts";
import { startWorkerRole } from "../../roles/worker.ts";

// The two other ways a mail travels: written as an .eml file when there is no SMTP relay (embedded mode),
// listed for admins; and held back, not lost, while the relay is unreachable or refuses, until it takes it.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startApp(env: Record<string, string>): Promise<TestApp> {
  const t = await createTestApp({ env: { OUTBOX_POLL_MS: "100", ...env } });
  const worker = await startWorkerRole(t.deps);
  cleanups.push(async () => {
    await worker.stop();
    await t.close();
  });
  return t;
}

describe("without SMTP_URL", () => {
  it("writes each mail as an .eml file under DATA_DIR/mail and lists them for admins", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "turnout-mail-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const t = await startApp({ DATA_DIR: dataDir });
    const [admin, organizer, guest] = [
      await createUser(t, { role: "admin" }),
      await createUser(t),
      await createUser(t, { name: "Gus" }),
    ];
    const event = await createPublished(t, organizer, { title: "Rooftop Jazz" });
    expect(
      (await t.app.inject({ method: "POST", url: `/api/events/${event.id}/join`, headers: bearer(guest) }))
        .statusCode,
    ).toBe(201);

    const mailDir = join(dataDir, "mail");
    // Only finished files: a mail is written aside as .eml.partial and then renamed.
    const emlFiles = async () =>
      (await readdir(mailDir).catch(() => [])).filter((name) => name.endsWith(".eml"));
    await eventually(async () => (await emlFiles()).length === 1, 20_000);
    expect(await readdir(mailDir)).toHaveLength(1);
    const [file = ""] = await emlFiles();
    expect(file).toMatch(/^[0-9a-f-]{36}\.eml$/);
    const eml = await readFile(join(mailDir, file), "utf8");
    const mail = parseMail(eml);
    expect(mail.headers.get("to")).toBe(`Gus <${guest.user.email}>`);
    expect(mail.headers.get("subject")).toBe("You're in: Rooftop Jazz");
    expect(mail.headers.get("list-unsubscribe")).toMatch(
      /^<http:\/\/localhost:3000\/api\/mail\/unsubscribe\?token=/,
    );
    expect(mail.headers.get("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    expect(mail.text).toContain("You have a confirmed place at Rooftop Jazz.");
    expect(mail.html).toContain("You have a confirmed place at Rooftop Jazz.");

    const listed = await t.app.inject({ method: "GET", url: "/api/admin/mail", headers: bearer(admin) });
    expect(listed.statusCode).toBe(200);
    const page = mailMessagePageSchema.parse(listed.json());
    const id = file.replace(/\.eml$/, "");
    expect(page.items).toEqual([
      expect.objectContaining({
        id,
        kind: "participation.confirmed",
        userId: guest.user.id,
        to: guest.user.email,
        subject: "You're in: Rooftop Jazz",
        status: "sent",
        emlUrl: `/api/admin/mail/${id}/eml`,
      }),
    ]);
    const stored = await t.app.inject({
      method: "GET",
      url: `/api/admin/mail/${id}/eml`,
      headers: bearer(admin),
    });
    expect(stored.statusCode).toBe(200);
    expect(stored.headers["content-type"]).toContain("message/rfc822");
    expect(stored.body).toBe(eml);

    expect(
      (await t.app.inject({ method: "GET", url: "/api/admin/mail", headers: bearer(guest) })).statusCode,
    ).toBe(403);
    expect((await t.app.inject({ method: "GET", url: "/api/admin/mail" })).statusCode).toBe(401);
    const unknown = await t.app.inject({
      method: "GET",
      url: `/api/admin/mail/${guest.user.id}/eml`,
      headers: bearer(admin),
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: "mail.not_found" } });
  });
});

/** A 127.0.0.1 port nobody listens on (yet). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function mailJobs(t: TestApp) {
  const { rows } = await sql<{ state: string; retry_count: number }>`
    SELECT state, retry_count FROM pgboss.job WHERE name = 'mail.send'
  `.execute(t.deps.db);
  return rows;
}

describe("a relay that is down, then refuses, then takes it", () => {
  it("retries the mail with backoff and delivers it once", { timeout: 150_000 }, async () => {
    const port = await freePort();
    const t = await startApp({ SMTP_URL: `smtp://127.0.0.1:${port}` });
    const [organizer, guest] = [await createUser(t), await createUser(t)];
    const event = await createPublished(t, organizer, { title: "Patience" });
    await t.app.inject({ method: "POST", url: `/api/events/${event.id}/join`, headers: bearer(guest) });

    // Nobody listens: the first attempt fails and the job waits for a retry, the mail still pending.
    await eventually(async () => (await mailJobs(t)).some((job) => job.state === "retry"), 20_000);
    expect(await t.deps.db.selectFrom("mail_messages").select("status").execute()).toEqual([
      { status: "pending" },
    ]);

    // The relay comes up but is busy (451) once, then takes the mail.
    const peer: SmtpPeer = await startSmtpPeer({ port });
    cleanups.push(() => peer.close());
    peer.refuseNext(1);
    // Retries come 2-4 s, then 4-8 s, then 8-16 s apart: the third lands within about 30 s.
    await eventually(() => Promise.resolve(peer.received.length === 1), 60_000);
    expect(peer.refused()).toBe(1);
    expect(peer.received[0]?.envelopeTo).toEqual([guest.user.email]);
    expect(peer.received[0]?.headers.get("subject")).toBe("You're in: Patience");
    await eventually(async () => (await mailJobs(t)).every((job) => job.state === "completed"), 20_000);
    const [job] = await mailJobs(t);
    expect(job?.retry_count).toBeGreaterThanOrEqual(2);
    expect(await t.deps.db.selectFrom("mail_messages").select("status").execute()).toEqual([
      { status: "sent" },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(peer.received).toHaveLength(1);
  });
});
