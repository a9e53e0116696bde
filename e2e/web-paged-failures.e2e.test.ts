import type { Page, Route } from "playwright-core";
import { describe, expect, it } from "vitest";
import { skipWithoutChromium } from "./support/chromium.ts";
import { eventually, expectNoPageProblems, LIVE_MS, person, useWebHarness } from "./support/web-harness.ts";

/*
 * A failure while a paged list is on screen, in real Chromium against a started server: Discover's third page
 * and then a live refresh are answered 503 by the browser's network layer (the server stays real). What was
 * loaded stays, the failure is said where the list ends (under an empty result too), and trying again brings
 * what failed, once.
 */

const shouldSkip = skipWithoutChromium("web paged-list failure browser tests");

/** One page of Discover's feed. */
const PAGE_SIZE = 12;
const TOTAL = 2 * PAGE_SIZE + 6;
/** The client asks a failed request twice more before it gives up (api/queries.ts). */
const ATTEMPTS = 3;
const NEXT_PAGE_FAILED = "The next page could not be loaded.";
const LIST_STALE = "This list could not be updated; it shows what was loaded before.";

/** What the server says when it is briefly unavailable (API.md's error body). */
function answerUnavailable(route: Route): Promise<void> {
  return route.fulfill({
    status: 503,
    json: { error: { code: "service.unavailable", message: "Unavailable." } },
  });
}

describe.skipIf(shouldSkip)("a paged list's failures in Chromium", () => {
  const host = person("Nora");
  const web = useWebHarness("web-paged-failures", async (harness) => {
    await harness.register(host);
    for (let start = 0; start < TOTAL; start += 10)
      await Promise.all(
        Array.from({ length: Math.min(10, TOTAL - start) }, (_, offset) =>
          harness.publishEvent(host, { title: `Gig ${start + offset + 1}` }),
        ),
      );
  });

  /**
   * Discover with its first page shown, once the page has heard of every event published so far (the
   * `events` channel's sequence at TOTAL): a publication relayed late would refresh the list mid-test.
   */
  async function openDiscover(page: Page): Promise<void> {
    let eventsSeq = 0;
    page.on("websocket", (socket) => {
      socket.on("framereceived", ({ payload }) => {
        const frame = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8")) as {
          channel?: string;
          seq?: number;
        };
        if (frame.channel === "events" && typeof frame.seq === "number")
          eventsSeq = Math.max(eventsSeq, frame.seq);
      });
    });
    await page.goto(`${web().base}/`);
    await eventually(
      "every publication on the events channel",
      () => Promise.resolve(eventsSeq >= TOTAL ? true : undefined),
      LIVE_MS,
    );
    await expect.poll(() => cardsOf(page).count(), { timeout: LIVE_MS }).toBe(PAGE_SIZE);
  }

  const cardsOf = (page: Page) => page.getByRole("list", { name: "Upcoming events" }).getByRole("listitem");
  const titlesOf = (page: Page) => cardsOf(page).getByRole("link").allTextContents();

  it("keeps two loaded pages when the third fails, says so at the end, and loads it once on Try again", async () => {
    const page = await web().openPage();
    // The second page goes through; every later one fails until the test lets it through.
    const cursors: string[] = [];
    let isFailing = true;
    let failures = 0;
    await page.route(/\/api\/events\?.*cursor=/, async (route) => {
      const cursor = new URL(route.request().url()).searchParams.get("cursor") ?? "";
      if (!cursors.includes(cursor)) cursors.push(cursor);
      if (isFailing && cursors.indexOf(cursor) > 0) {
        failures += 1;
        await answerUnavailable(route);
      } else await route.continue();
    });
    await openDiscover(page);
    const loadMore = page.getByRole("button", { name: "Load more" });
    await loadMore.click();
    await expect.poll(() => cardsOf(page).count(), { timeout: LIVE_MS }).toBe(2 * PAGE_SIZE);
    const twoPages = await titlesOf(page);

    await loadMore.click();
    const alert = page.getByRole("alert").filter({ hasText: NEXT_PAGE_FAILED });
    await alert.waitFor({ timeout: LIVE_MS });
    expect(await alert.textContent()).toContain("The service is briefly unavailable.");
    expect(failures).toBe(ATTEMPTS);
    // The loaded pages are still there, and no error view took their place.
    expect(await titlesOf(page)).toEqual(twoPages);
    expect(await page.getByText("Something went wrong").count()).toBe(0);
    // The button that was pressed is now the way to try again, and keeps the focus; the end of the list is in
    // view, yet nothing asks again by itself.
    const tryAgain = page.getByRole("button", { name: "Try again" });
    expect(
      await page.evaluate("[document.activeElement?.tagName, document.activeElement?.textContent]"),
    ).toEqual(["BUTTON", "Try again"]);
    expect(await loadMore.count()).toBe(0);
    await web().axe(page, "discover-next-page-failed");
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(failures).toBe(ATTEMPTS);

    isFailing = false;
    await tryAgain.click();
    await expect.poll(() => cardsOf(page).count(), { timeout: LIVE_MS }).toBe(TOTAL);
    const all = await titlesOf(page);
    expect(all.slice(0, 2 * PAGE_SIZE)).toEqual(twoPages);
    expect(new Set(all).size).toBe(TOTAL);
    expect((await alert.count()) + (await tryAgain.count())).toBe(0);
    await page.getByText("That's everything for now.").waitFor({ timeout: LIVE_MS });
    await page.close();
  });

  it("keeps the cards when a live refresh fails, with a note, and refreshes on the note's button", async () => {
    const page = await web().openPage();
    await openDiscover(page);
    const shown = await titlesOf(page);
    // The first page asked again (no cursor): the refresh that a newly published event starts.
    let failures = 0;
    const firstPage = /\/api\/events\?(?!.*cursor=)/;
    await page.route(firstPage, async (route) => {
      failures += 1;
      await answerUnavailable(route);
    });
    const early = await web().publishEvent(host, {
      title: "Early doors",
      startsAt: "2027-01-09T18:00:00Z",
      endsAt: "2027-01-09T22:00:00Z",
    });

    await page.getByRole("status").filter({ hasText: LIST_STALE }).waitFor({ timeout: LIVE_MS });
    expect(failures).toBe(ATTEMPTS);
    expect(await titlesOf(page)).toEqual(shown);
    expect(await page.getByText("Something went wrong").count()).toBe(0);
    expect(await page.getByRole("link", { name: early.title }).count()).toBe(0);
    // Scrolled to its end, a stale list asks for no next page by itself: one that loaded would end the failed
    // state and take the note away while the first page is still the old one.
    let nextPages = 0;
    page.on("request", (request) => {
      if (/\/api\/events\?.*cursor=/.test(request.url())) nextPages += 1;
    });
    await page.getByRole("button", { name: "Refresh" }).scrollIntoViewIfNeeded();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(nextPages).toBe(0);
    expect(await page.getByRole("status").filter({ hasText: LIST_STALE }).count()).toBe(1);
    // "Load more" by hand loads the next page, and the note stays: the first page is still the old one.
    await page.getByRole("button", { name: "Load more" }).click();
    await expect.poll(() => cardsOf(page).count(), { timeout: LIVE_MS }).toBe(2 * PAGE_SIZE);
    expect(nextPages).toBe(1);
    expect(await page.getByRole("status").filter({ hasText: LIST_STALE }).count()).toBe(1);

    await page.unroute(firstPage);
    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(async () => (await titlesOf(page))[0], { timeout: LIVE_MS }).toBe(early.title);
    expect(await page.getByRole("status").filter({ hasText: LIST_STALE }).count()).toBe(0);
    // The new event first, then what was shown; the click brought the end of the list into view, so the next
    // page may have come as well.
    const refreshed = await titlesOf(page);
    expect(refreshed.slice(1, PAGE_SIZE)).toEqual(shown.slice(0, PAGE_SIZE - 1));
    expect(new Set(refreshed).size).toBe(refreshed.length);
    await page.close();
  });

  it("says under an empty result that a live refresh failed, and refreshes on the note's button", async () => {
    const page = await web().openPage();
    await page.goto(`${web().base}/?q=Zeppelin`);
    const empty = page.getByText("No events match. Try another search or category.");
    await empty.waitFor({ timeout: LIVE_MS });
    let failures = 0;
    const firstPage = /\/api\/events\?(?!.*cursor=)/;
    await page.route(firstPage, async (route) => {
      failures += 1;
      await answerUnavailable(route);
    });
    const match = await web().publishEvent(host, { title: "Zeppelin night" });

    await page.getByRole("status").filter({ hasText: LIST_STALE }).waitFor({ timeout: LIVE_MS });
    expect(failures).toBeGreaterThanOrEqual(ATTEMPTS);
    expect(await empty.count()).toBe(1);
    expect(await page.getByText("Something went wrong").count()).toBe(0);
    await web().axe(page, "discover-empty-refresh-failed");

    await page.unroute(firstPage);
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("link", { name: match.title }).waitFor({ timeout: LIVE_MS });
    expect(await empty.count()).toBe(0);
    expect(await page.getByRole("status").filter({ hasText: LIST_STALE }).count()).toBe(0);
    await page.close();
  });

  it("had no page errors and no CSP reports of its own", () => {
    expectNoPageProblems(web());
  });
});
