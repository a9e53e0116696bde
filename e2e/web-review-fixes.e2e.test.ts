import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { skipWithoutChromium } from "./support/chromium.ts";
import {
  eventually,
  expectStatus,
  LIVE_MS,
  type Person,
  person,
  expectNoPageProblems,
  useWebHarness,
  type PageOptions,
} from "./support/web-harness.ts";

/*
 * Review leftovers of the web app, in real Chromium against a started server: only the viewer's standing in
 * the join panel is a live region; the error view says the API's error in the page's language; Me pages
 * through more than one page of events and places; Discover's search follows back and forward.
 */

const shouldSkip = skipWithoutChromium("web review browser tests");

/** One page of Me's lists (the web app asks for 50 at a time). */
const ME_PAGE_SIZE = 50;

describe.skipIf(shouldSkip)("web app review fixes in Chromium", () => {
  const organizer = person("Oskar");
  const web = useWebHarness("web-review-fixes", (harness) => harness.register(organizer));

  async function signedInPage(who: Person, options?: PageOptions) {
    const page = await web().openPage(options);
    await web().registerIn(page, who);
    return page;
  }

  /** The texts of every live region of the page that holds `selector`, or is inside one that does. */
  function liveRegionsHolding(page: Page, selector: string): Promise<string[]> {
    return page.evaluate(`(() => {
      const live = '[aria-live]:not([aria-live="off"]), [role="status"], [role="alert"], [role="log"]';
      return [...document.querySelectorAll(live)]
        .filter((region) => region.querySelector(${JSON.stringify(selector)}) !== null)
        .map((region) => region.textContent);
    })()`);
  }

  it("makes only the viewer's standing in the join panel live, not its buttons or ticket", async () => {
    const event = await web().publishEvent(organizer, { capacity: 1 });
    const first = person("Fay");
    const second = person("Gus");
    const page = await signedInPage(first);
    await page.goto(`${web().base}/events/${event.id}`);
    const status = page.getByTestId("join-status");
    await page.getByRole("button", { name: "Join", exact: true }).click();
    await page.getByText("You're in!").waitFor({ timeout: LIVE_MS });
    await page.getByTestId("ticket").waitFor({ timeout: LIVE_MS });

    // No live region around the panel's buttons or ticket: a change there is not read out whole.
    expect(await liveRegionsHolding(page, "button")).toEqual([]);
    expect(await liveRegionsHolding(page, '[data-testid="ticket"]')).toEqual([]);
    expect(await status.getAttribute("role")).toBe("status");
    expect(await status.textContent()).toBe("You're in!");
    await web().axe(page, "event (confirmed)");

    // The moving place on the waitlist and the promotion are what the status region says.
    const other = await signedInPage(second);
    await other.goto(`${web().base}/events/${event.id}`);
    await other.getByRole("button", { name: "Join the waitlist" }).click();
    const otherStatus = other.getByTestId("join-status");
    await expect
      .poll(() => otherStatus.textContent(), { timeout: LIVE_MS })
      .toBe("You are 1st on the waitlist");
    await page.getByRole("button", { name: "Leave" }).click();
    await expect.poll(() => otherStatus.textContent(), { timeout: LIVE_MS }).toBe("You're in!");
    expect(await liveRegionsHolding(other, "button")).toEqual([]);
    await Promise.all([page.close(), other.close()]);
  });

  it("says an API error in German on a German page, by its code, not the server's English message", async () => {
    const tooLong = "x".repeat(201); // q takes at most 200 characters: 400 validation.failed
    const answer = await fetch(`${web().base}/api/events?q=${tooLong}`);
    const body = (await answer.json()) as { error: { code: string; message: string } };
    expect([answer.status, body.error.code]).toEqual([400, "validation.failed"]);

    const page = await web().openPage({ locale: "de-DE" });
    await page.goto(`${web().base}/?q=${tooLong}`);
    const alert = page.getByRole("alert");
    await alert.getByText("Etwas ist schiefgelaufen").waitFor({ timeout: LIVE_MS });
    const text = (await alert.textContent()) ?? "";
    expect(text).toContain("Einige Angaben sind nicht gültig.");
    expect(text).not.toContain(body.error.message);
    await web().axe(page, "discover (error, German)");

    // The same page in English says it in English.
    await page.getByLabel("Sprache").selectOption("en");
    await alert.getByText("Some of what was sent is not valid.").waitFor({ timeout: LIVE_MS });
    await page.close();
  });

  it("pages through more than 50 of one's own events and places on Me with Load more", async () => {
    const host = person("Hana");
    const guest = person("Ida");
    await web().register(host);
    await web().register(guest);
    const total = ME_PAGE_SIZE + 5;
    // Eleven at a time: the order of the lists is the API's to keep, not this loop's.
    for (let start = 0; start < total; start += 11) {
      await Promise.all(
        Array.from({ length: Math.min(11, total - start) }, async (_, offset) => {
          const event = await web().publishEvent(host, { title: `Series ${start + offset + 1}` });
          expectStatus(await web().apiAs(guest, "POST", `/api/events/${event.id}/join`, {}), 201);
        }),
      );
    }

    // Every join's live message is out before the pages open: a late one would refetch the places and so
    // cancel the next page the test asked for (the notifications come from the same outbox rows).
    await eventually("a notification for every join", async () => {
      const answer = await web().apiAs(guest, "GET", "/api/me/notifications?limit=100");
      const { items } = expectStatus(answer, 200) as { items: { kind: string }[] };
      return items.filter((item) => item.kind === "participation.confirmed").length === total
        ? true
        : undefined;
    });

    for (const [who, regionName] of [
      [guest, "Upcoming"],
      [host, "My events"],
    ] as const) {
      const page = await web().openPage();
      await web().signInIn(page, who);
      await page.goto(`${web().base}/me`);
      const region = page.getByRole("region", { name: regionName });
      const cards = region.getByRole("listitem");
      await expect.poll(() => cards.count(), { timeout: LIVE_MS }).toBe(ME_PAGE_SIZE);
      const more = page.getByRole("button", { name: "Load more" });
      expect(await more.count()).toBe(1);
      if (who === guest) await web().axe(page, "me (a page of places, Load more)");
      await clickWhileNextPageHeld(page, more);
      await expect.poll(() => cards.count(), { timeout: LIVE_MS }).toBe(total);
      expect(await more.count()).toBe(0);
      // Every one of them once: the cursor's pages neither skip nor repeat.
      const titles = await cards.getByRole("link").allTextContents();
      expect(new Set(titles).size).toBe(total);
      await page.close();
    }
  });

  /** Clicks Load more with the next page held back (a slow network): the busy state is said and keeps focus. */
  async function clickWhileNextPageHeld(page: Page, more: Locator): Promise<void> {
    let releaseNextPage = () => {};
    const held = new Promise<void>((resolve) => {
      releaseNextPage = resolve;
    });
    await page.route(/\/api\/me\/.*[?&]cursor=/, async (route) => {
      await held;
      await route.continue();
    });
    const status = more.locator("xpath=..").getByRole("status");
    expect(await status.textContent()).toBe("");
    await more.click();
    // Said in the status line, and the pressed button keeps the focus while it is busy.
    await expect.poll(() => status.textContent(), { timeout: LIVE_MS }).toBe("Loading more…");
    const focused = "[document.activeElement?.textContent, document.activeElement?.ariaDisabled]";
    expect(await page.evaluate(focused)).toEqual(["Load more", "true"]);
    releaseNextPage();
    const busy = page.getByRole("status").filter({ hasText: "Loading more…" });
    await expect.poll(() => busy.count(), { timeout: LIVE_MS }).toBe(0);
  }

  it("keeps Discover's search in the URL and restores it on back and forward", async () => {
    const tag = crypto.randomUUID().slice(0, 6);
    // Earlier than every other event of the file, so both are on Discover's first page without a search.
    const early = { startsAt: "2027-01-10T17:00:00Z", endsAt: "2027-01-10T20:00:00Z" };
    await web().publishEvent(organizer, { title: `Harbour jazz ${tag}`, ...early });
    await web().publishEvent(organizer, { title: `Pottery evening ${tag}`, ...early });
    const page = await web().openPage();
    await page.goto(`${web().base}/`);
    const box = page.getByRole("searchbox", { name: "Search events" });
    const jazz = page.getByRole("link", { name: `Harbour jazz ${tag}` });
    const pottery = page.getByRole("link", { name: `Pottery evening ${tag}` });
    const query = () => new URL(page.url()).searchParams.get("q");

    await box.fill("jazz");
    await expect.poll(query, { timeout: LIVE_MS }).toBe("jazz");
    await jazz.waitFor({ timeout: LIVE_MS });
    await box.fill("pottery");
    await expect.poll(query, { timeout: LIVE_MS }).toBe("pottery");
    await pottery.waitFor({ timeout: LIVE_MS });
    expect(await jazz.count()).toBe(0);

    await page.goBack();
    await expect.poll(() => box.inputValue(), { timeout: LIVE_MS }).toBe("jazz");
    await jazz.waitFor({ timeout: LIVE_MS });
    expect(await pottery.count()).toBe(0);
    // The box followed the URL: it does not search again for what it showed before, a moment later.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(query()).toBe("jazz");

    await page.goBack();
    await expect.poll(() => box.inputValue(), { timeout: LIVE_MS }).toBe("");
    expect(query()).toBeNull();
    await pottery.waitFor({ timeout: LIVE_MS });
    await jazz.waitFor({ timeout: LIVE_MS });

    await page.goForward();
    await expect.poll(() => box.inputValue(), { timeout: LIVE_MS }).toBe("jazz");
    expect(query()).toBe("jazz");
    await page.goForward();
    await expect.poll(() => box.inputValue(), { timeout: LIVE_MS }).toBe("pottery");
    await pottery.waitFor({ timeout: LIVE_MS });
    await web().axe(page, "discover (searched)");

    // A reload keeps the search: it lives in the URL.
    await page.reload();
    await expect.poll(() => box.inputValue(), { timeout: LIVE_MS }).toBe("pottery");
    await page.close();
  });

  it("had no page errors and no CSP reports of its own", () => {
    expectNoPageProblems(web());
  });
});
