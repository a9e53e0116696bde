import type { MailMessagePage } from "@turnout/contracts";
import { createTokenKey, signAccessToken } from "../apps/server/src/modules/auth/index.ts";
import { describe, expect, it } from "vitest";
import { skipWithoutChromium } from "./support/chromium.ts";
import {
  eventually,
  expectStatus,
  LIVE_MS,
  person,
  expectNoPageProblems,
  useWebHarness,
} from "./support/web-harness.ts";

/*
 * The web app's account and admin pages in real Chromium against a started server: the admin's mail outbox
 * (/admin/mail) with a real mail, the forbidden view for everyone else, changing the name on Me, and an
 * access token that ran out being refreshed without the person noticing.
 */

const shouldSkip = skipWithoutChromium("web account browser tests");

describe.skipIf(shouldSkip)("accounts and admin pages in Chromium", () => {
  const admin = person("Ada"); // the server's first account, so its admin
  const guest = person("Gus");
  const web = useWebHarness("web-account", async (harness) => {
    await harness.register(admin);
    await harness.register(guest);
  });

  /** The mail of `kind` to `to`, once the send job has written it. */
  async function sentMail(to: string, kind: string) {
    return eventually(`a sent ${kind} mail to ${to}`, async () => {
      const page = expectStatus(await web().apiAs(admin, "GET", "/api/admin/mail"), 200) as MailMessagePage;
      return page.items.find((mail) => mail.to === to && mail.kind === kind && mail.status === "sent");
    });
  }

  it("lists the outbox for an admin at /admin/mail and opens a real mail as text and in a sandboxed frame", async () => {
    // Markup in the title must stay text everywhere: in the list, the plain text and the HTML frame.
    const title = `Mail check <img src=x onerror="window.__injected=1">`;
    const event = await web().publishEvent(admin, { title, capacity: 10 });
    expectStatus(await web().apiAs(guest, "POST", `/api/events/${event.id}/join`, {}), 201);
    const mail = await sentMail(guest.email, "participation.confirmed");
    const subject = `You're in: ${title}`;

    const page = await web().openPage();
    await web().signInIn(page, admin);
    await page.goto(`${web().base}/`);
    await page.getByRole("navigation").getByRole("link", { name: "Mail" }).click();
    await page.getByRole("heading", { name: "Outgoing mail" }).waitFor({ timeout: LIVE_MS });
    const row = page.getByRole("row").filter({ hasText: guest.email });
    await row.waitFor({ timeout: LIVE_MS });
    const cells = await row.getByRole("cell").allTextContents();
    expect(cells.slice(0, 4)).toEqual([guest.email, subject, "Join confirmed", "Sent"]);
    expect(cells[4]).toMatch(/2026|2027/);
    await web().axe(page, "admin mail (list)");

    await row.getByRole("link", { name: subject }).click();
    const opened = page.getByTestId("open-mail");
    await opened.getByRole("heading", { name: subject }).waitFor({ timeout: LIVE_MS });
    expect(new URL(page.url()).searchParams.get("open")).toBe(mail.id);
    expect(await page.evaluate("document.activeElement?.id")).toBe("open-mail-title");
    expect(await opened.getByText(`${guest.name} <${guest.email}>`).count()).toBe(1);
    const text = (await opened.locator("pre").textContent()) ?? "";
    expect(text).toContain(`You have a confirmed place at ${title}.`);
    expect(text).toMatch(new RegExp(`/events/${event.id}\\n`));
    expect(text).toContain("/api/mail/unsubscribe?token=");
    await web().axe(page, "admin mail (open, plain text)");

    await opened.getByRole("button", { name: "HTML" }).click();
    const frame = opened.locator("iframe");
    expect(await frame.getAttribute("sandbox")).toBe("");
    const inside = page.frameLocator('[data-testid="open-mail"] iframe');
    await inside.getByRole("heading", { name: "Your place is confirmed" }).waitFor({ timeout: LIVE_MS });
    expect(await inside.locator("p").first().textContent()).toBe(`You have a confirmed place at ${title}.`);
    expect(await inside.locator("img").count()).toBe(0);
    // Nothing of the mail's markup entered the app's own document, and nothing in it ran.
    expect(await page.locator("main h1", { hasText: "Your place is confirmed" }).count()).toBe(0);
    expect(await page.evaluate("window.__injected")).toBeUndefined();
    await web().axe(page, "admin mail (open, HTML)");
    await web().screenshot(page, "admin-mail");

    // A mail written while the page is open shows after Refresh.
    const late = person("Lou");
    await web().register(late);
    expectStatus(await web().apiAs(late, "POST", `/api/events/${event.id}/join`, {}), 201);
    await sentMail(late.email, "participation.confirmed");
    expect(await page.getByRole("row").filter({ hasText: late.email }).count()).toBe(0);
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("row").filter({ hasText: late.email }).waitFor({ timeout: LIVE_MS });

    // Closing returns to the list, with the focus back on the mail's link.
    await opened.getByRole("button", { name: "Close" }).click();
    await expect.poll(() => opened.count(), { timeout: LIVE_MS }).toBe(0);
    expect(new URL(page.url()).searchParams.has("open")).toBe(false);
    expect(await page.evaluate("document.activeElement?.id")).toBe(`mail-${mail.id}`);
    await page.close();
  });

  it("pages the outbox past its first 50 mails with Load more", async () => {
    const reader = person("Rea");
    await web().register(reader);
    // One confirmation mail per join: 51 joins make more than the page's 50 mails whatever came before.
    for (let start = 0; start < 51; start += 17)
      await Promise.all(
        Array.from({ length: 17 }, async () => {
          const event = await web().publishEvent(admin);
          expectStatus(await web().apiAs(reader, "POST", `/api/events/${event.id}/join`, {}), 201);
        }),
      );
    const sentToReader = async () => {
      let cursor: string | null = null;
      let count = 0;
      do {
        const query: string = cursor === null ? "" : `?cursor=${encodeURIComponent(cursor)}`;
        const page = expectStatus(
          await web().apiAs(admin, "GET", `/api/admin/mail${query}`),
          200,
        ) as MailMessagePage;
        count += page.items.filter((mail) => mail.to === reader.email && mail.status === "sent").length;
        cursor = page.nextCursor;
      } while (cursor !== null);
      return count;
    };
    await eventually("51 mails sent to the reader", async () =>
      (await sentToReader()) === 51 ? true : undefined,
    );

    const page = await web().openPage();
    await web().signInIn(page, admin);
    await page.goto(`${web().base}/admin/mail`);
    const rows = page.getByRole("row").filter({ hasText: "@" });
    await expect.poll(() => rows.count(), { timeout: LIVE_MS }).toBe(50);
    const more = page.getByRole("button", { name: "Load more" });
    await web().axe(page, "admin mail (a page, Load more)");
    await more.click();
    await expect.poll(() => rows.count(), { timeout: LIVE_MS }).toBeGreaterThan(50);
    expect(await page.getByRole("row").filter({ hasText: reader.email }).count()).toBe(51);
    await page.close();
  });

  it("shows the forbidden view, and no Mail link, to a signed-in person who is not an admin", async () => {
    const page = await web().openPage();
    await web().signInIn(page, guest);
    await page.goto(`${web().base}/admin/mail`);
    await page.getByRole("heading", { name: "Not for you" }).waitFor({ timeout: LIVE_MS });
    expect(await page.getByText("Your account may not see this page.").count()).toBe(1);
    expect(await page.getByRole("navigation").getByRole("link", { name: "Mail" }).count()).toBe(0);
    expect(await page.getByRole("heading", { name: "Outgoing mail" }).count()).toBe(0);
    // The API agrees: the page did not hide something the person could have read.
    expect((await web().apiAs(guest, "GET", "/api/admin/mail")).status).toBe(403);
    await web().axe(page, "admin mail (forbidden)");
    await page.close();

    const anonymous = await web().openPage();
    await anonymous.goto(`${web().base}/admin/mail`);
    await anonymous.getByRole("link", { name: "Sign in" }).first().waitFor({ timeout: LIVE_MS });
    expect(await anonymous.getByRole("heading", { name: "Outgoing mail" }).count()).toBe(0);
    await anonymous.close();
  });

  it("changes the account's name on Me, with the API's message on the field for an empty one", async () => {
    const renamed = person("Nia");
    const page = await web().openPage();
    await web().registerIn(page, renamed);
    await page.goto(`${web().base}/me`);
    await page.getByRole("heading", { name: renamed.name, level: 1 }).waitFor({ timeout: LIVE_MS });
    const field = page.getByLabel("Name", { exact: true });
    expect(await field.inputValue()).toBe(renamed.name);

    // The server's own message for an empty name lands on the field.
    const refusal = (await web().apiAs(renamed, "PATCH", "/api/me", { name: " " })).body as {
      error: { details: { path: string; message: string }[] };
    };
    await field.fill(" ");
    await page.getByRole("button", { name: "Save name" }).click();
    const error = page.locator('[data-error-for="account-name"]');
    await error.waitFor({ timeout: LIVE_MS });
    expect(await error.textContent()).toBe(refusal.error.details[0]?.message);
    expect(await field.getAttribute("aria-invalid")).toBe("true");
    await web().axe(page, "me (name refused)");

    await field.fill("Nia Okafor");
    await page.getByRole("button", { name: "Save name" }).click();
    await page.getByText("Name saved.").waitFor({ timeout: LIVE_MS });
    expect(await page.locator('[data-error-for="account-name"]').count()).toBe(0);
    await page.getByRole("heading", { name: "Nia Okafor", level: 1 }).waitFor({ timeout: LIVE_MS });
    expect(await page.getByText(`Signed in as Nia Okafor (${renamed.email})`).count()).toBe(1);
    const me = expectStatus(await web().apiAs(renamed, "GET", "/api/me"), 200) as { name: string };
    expect(me.name).toBe("Nia Okafor");

    await page.reload();
    await page.getByRole("heading", { name: "Nia Okafor", level: 1 }).waitFor({ timeout: LIVE_MS });
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Nia Okafor");
    await page.close();
  });

  it("refreshes an access token that ran out without the person noticing, and keeps the login", async () => {
    const fay = person("Fay");
    const page = await web().openPage();
    await web().registerIn(page, fay);
    // The app's first refresh (at start) hands it an access token that ran out a minute ago, signed by the
    // server's own key for this very login: what the app holds after 16 minutes in a background tab.
    const refreshes: number[] = [];
    await page.route("**/api/auth/refresh", async (route) => {
      const response = await route.fetch();
      refreshes.push(response.status());
      if (refreshes.length > 1) {
        await route.fulfill({ response });
        return;
      }
      const body = (await response.json()) as { accessToken: string };
      const claims = JSON.parse(
        Buffer.from(body.accessToken.split(".")[1] ?? "", "base64url").toString("utf8"),
      ) as { sub: string; role: "user"; sid: string };
      const expired = await signAccessToken(
        createTokenKey(await web().app.tokenSecret()),
        { id: claims.sub, role: claims.role, sessionId: claims.sid },
        new Date(Date.now() - 16 * 60_000),
      );
      await route.fulfill({ response, json: { ...body, accessToken: expired } });
    });
    const refusals: string[] = [];
    page.on("response", (response) => {
      if (response.status() === 401)
        void response.json().then((body: { error: { code: string } }) => refusals.push(body.error.code));
    });

    await page.goto(`${web().base}/me`);
    await page.getByRole("heading", { name: fay.name, level: 1 }).waitFor({ timeout: LIVE_MS });
    await page.getByText("You have not created any events yet.").waitFor({ timeout: LIVE_MS });
    await expect
      .poll(() => page.getByRole("textbox", { name: "Calendar feed" }).inputValue(), { timeout: LIVE_MS })
      .toMatch(/\/api\/calendar\/.+\.ics$/);
    expect(await page.getByRole("alert").count()).toBe(0);
    // The app really held the expired token, the API said so, and one shared refresh answered every caller.
    expect(refusals).toContain("auth.token_expired");
    expect(refusals.every((code) => code === "auth.token_expired")).toBe(true);
    expect(refreshes.length).toBeGreaterThanOrEqual(2);
    expect(refreshes.every((status) => status === 200)).toBe(true);
    const refreshesSoFar = refreshes.length;

    // A write with the fresh token needs no further refresh.
    await page.getByLabel("Name", { exact: true }).fill("Fay Fresh");
    await page.getByRole("button", { name: "Save name" }).click();
    await page.getByText("Name saved.").waitFor({ timeout: LIVE_MS });
    expect(refreshes.length).toBe(refreshesSoFar);

    // No refresh token was presented twice (that would end the login): a reload still signs in.
    await page.unroute("**/api/auth/refresh");
    await page.reload();
    await page.getByRole("heading", { name: "Fay Fresh", level: 1 }).waitFor({ timeout: LIVE_MS });
    await page.close();
  });

  it("had no page errors and no CSP reports of its own", () => {
    expectNoPageProblems(web());
  });
});
