import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { skipWithoutChromium } from "./support/chromium.ts";
import {
  eventually,
  expectNoPageProblems,
  expectStatus,
  LIVE_MS,
  person,
  useWebHarness,
} from "./support/web-harness.ts";

/*
 * A live change to a list read page by page, in real Chromium against a started server: the places on Me
 * (two pages of them) change under the person while the page is open, after "Load more", while "Load more" is
 * on its way, and while the live refresh is; a card on Discover is edited while its next page is on its way.
 * The pages loaded stay, the change shows, the next page arrives.
 */

const shouldSkip = skipWithoutChromium("web live pages browser tests");

/** One page of Me's lists (the web app asks for 50 at a time). */
const ME_PAGE_SIZE = 50;
const TOTAL = ME_PAGE_SIZE + 5;
/** One page of Discover's feed. */
const DISCOVER_PAGE_SIZE = 12;
const REMOVED = "The organizer removed you from this event";

describe.skipIf(shouldSkip)("live changes to a paged list in Chromium", () => {
  const host = person("Lena");
  const guest = person("Milo");
  const eventIds = new Map<string, string>(); // title -> id
  const web = useWebHarness("web-live-pages", async (harness) => {
    await harness.register(host);
    await harness.register(guest);
    // Eleven at a time: the order of the list is the API's to keep, not this loop's.
    for (let start = 0; start < TOTAL; start += 11) {
      await Promise.all(
        Array.from({ length: Math.min(11, TOTAL - start) }, async (_, offset) => {
          const event = await harness.publishEvent(host, { title: `Season ${start + offset + 1}` });
          expectStatus(await harness.apiAs(guest, "POST", `/api/events/${event.id}/join`, {}), 201);
          eventIds.set(event.title, event.id);
        }),
      );
    }
    // Every join's own live message is out before a page opens, so the only live change a test sees is its own.
    await eventually("a notification for every join", async () => {
      const answer = await harness.apiAs(guest, "GET", "/api/me/notifications?limit=100");
      const { items } = expectStatus(answer, 200) as { items: { kind: string }[] };
      return items.filter((item) => item.kind === "participation.confirmed").length === TOTAL
        ? true
        : undefined;
    });
  });

  /** Me as the guest, its first page of places shown; and the frames its WebSocket received. */
  async function openMe(): Promise<{ page: Page; cards: Locator; frames: string[] }> {
    const page = await web().openPage();
    const frames: string[] = [];
    page.on("websocket", (socket) => {
      socket.on("framereceived", ({ payload }) => {
        frames.push(typeof payload === "string" ? payload : payload.toString("utf8"));
      });
    });
    await web().signInIn(page, guest);
    await page.goto(`${web().base}/me`);
    const cards = page.getByRole("region", { name: "Upcoming" }).getByRole("listitem");
    await expect.poll(() => cards.count(), { timeout: LIVE_MS }).toBe(ME_PAGE_SIZE);
    return { page, cards, frames };
  }

  /** The organizer removes the guest from the event of the card: a live change on the guest's own channel. */
  async function removeGuestFrom(card: Locator): Promise<string> {
    const title = await card.getByRole("link").first().textContent();
    const id = eventIds.get(title ?? "");
    if (id === undefined) throw new Error(`no event titled ${title}`);
    const me = expectStatus(await web().apiAs(guest, "GET", "/api/me"), 200) as { id: string };
    expectStatus(await web().apiAs(host, "DELETE", `/api/events/${id}/participants/${me.id}`), 200);
    return id;
  }

  const statusOf = (card: Locator) => card.locator("p").last().textContent();

  it("keeps every loaded page when a live change arrives after Load more, and shows the change", async () => {
    const { page, cards } = await openMe();
    await page.getByRole("button", { name: "Load more" }).click();
    await expect.poll(() => cards.count(), { timeout: LIVE_MS }).toBe(TOTAL);
    const titles = await cards.getByRole("link").allTextContents();

    // One change on the first page, one on the second.
    const onFirstPage = cards.nth(3);
    const onSecondPage = cards.nth(TOTAL - 2);
    await removeGuestFrom(onFirstPage);
    await removeGuestFrom(onSecondPage);

    await expect.poll(() => statusOf(onFirstPage), { timeout: LIVE_MS }).toBe(REMOVED);
    await expect.poll(() => statusOf(onSecondPage), { timeout: LIVE_MS }).toBe(REMOVED);
    expect(await cards.count()).toBe(TOTAL);
    expect(await cards.getByRole("link").allTextContents()).toEqual(titles);
    await page.close();
  });

  it("shows the next page when a live change lands while Load more is on its way", async () => {
    const { page, cards, frames } = await openMe();
    const titles = await cards.getByRole("link").allTextContents();
    let releaseNextPage = () => {};
    const held = new Promise<void>((resolve) => {
      releaseNextPage = resolve;
    });
    await page.route(/\/api\/me\/participations.*[?&]cursor=/, async (route) => {
      await held;
      // The app may have given up on the request meanwhile (the bug this test is about): then there is nothing to continue.
      await route.continue().catch(() => undefined);
    });
    await page.getByRole("button", { name: "Load more" }).click();
    await page.getByRole("status").filter({ hasText: "Loading more…" }).waitFor({ timeout: LIVE_MS });

    const onFirstPage = cards.nth(5);
    const changedId = await removeGuestFrom(onFirstPage);
    // The live message has reached the page while the next page is still held back.
    await eventually(
      "the live message of the removal in the page",
      () => Promise.resolve(frames.some((frame) => frame.includes(changedId)) ? true : undefined),
      LIVE_MS,
    );
    releaseNextPage();

    await expect.poll(() => cards.count(), { timeout: LIVE_MS }).toBe(TOTAL);
    await expect.poll(() => statusOf(onFirstPage), { timeout: LIVE_MS }).toBe(REMOVED);
    const shown = await cards.getByRole("link").allTextContents();
    expect(shown.slice(0, ME_PAGE_SIZE)).toEqual(titles);
    expect(new Set(shown).size).toBe(TOTAL);
    expect(await page.getByRole("button", { name: "Load more" }).count()).toBe(0);
    await page.close();
  });

  it("shows the change and the next page when Load more is pressed while a live refresh is on its way", async () => {
    const { page, cards } = await openMe();
    let releaseRefresh = () => {};
    const held = new Promise<void>((resolve) => {
      releaseRefresh = resolve;
    });
    let isRefreshHeld = false;
    // The first page asked again (no cursor): the refresh the live change starts.
    await page.route(/\/api\/me\/participations(?!.*[?&]cursor=)/, async (route) => {
      isRefreshHeld = true;
      await held;
      await route.continue().catch(() => undefined);
    });
    const onFirstPage = cards.nth(7);
    await removeGuestFrom(onFirstPage);
    await eventually("the refresh after the live change", () =>
      Promise.resolve(isRefreshHeld ? true : undefined),
    );

    await page.getByRole("button", { name: "Load more" }).click();
    releaseRefresh();

    await expect.poll(() => statusOf(onFirstPage), { timeout: LIVE_MS }).toBe(REMOVED);
    await expect.poll(() => cards.count(), { timeout: LIVE_MS }).toBe(TOTAL);
    expect(new Set(await cards.getByRole("link").allTextContents()).size).toBe(TOTAL);
    await page.close();
  });

  it("keeps a live edit on Discover's cards when the next page lands after it", async () => {
    const page = await web().openPage();
    const frames: string[] = [];
    page.on("websocket", (socket) => {
      socket.on("framereceived", ({ payload }) => {
        frames.push(typeof payload === "string" ? payload : payload.toString("utf8"));
      });
    });
    let releaseNextPage = () => {};
    const held = new Promise<void>((resolve) => {
      releaseNextPage = resolve;
    });
    await page.route(/\/api\/events\?.*cursor=/, async (route) => {
      await held;
      await route.continue().catch(() => undefined);
    });
    await page.goto(`${web().base}/`);
    const cards = page.getByRole("list", { name: "Upcoming events" }).getByRole("listitem");
    await expect.poll(() => cards.count(), { timeout: LIVE_MS }).toBe(DISCOVER_PAGE_SIZE);
    // Scrolling to the end asks for the next page by itself; the button is there for whoever gets there first.
    await page.getByRole("button", { name: "Load more" }).click();
    await page.getByRole("status").filter({ hasText: "Loading more…" }).waitFor({ timeout: LIVE_MS });

    const title = await cards.nth(2).getByRole("link").first().textContent();
    const id = eventIds.get(title ?? "");
    if (id === undefined) throw new Error(`no event titled ${title}`);
    const renamed = `${title} (moved indoors)`;
    expectStatus(await web().apiAs(host, "PATCH", `/api/events/${id}`, { title: renamed }), 200);
    await page.getByRole("link", { name: renamed }).waitFor({ timeout: LIVE_MS });
    expect(frames.some((frame) => frame.includes(renamed))).toBe(true);
    releaseNextPage();

    await expect.poll(() => cards.count(), { timeout: LIVE_MS }).toBeGreaterThan(DISCOVER_PAGE_SIZE);
    expect(await page.getByRole("link", { name: renamed }).count()).toBe(1);
    expect(await page.getByRole("link", { name: title ?? "", exact: true }).count()).toBe(0);
    await page.close();
  });

  it("had no page errors and no CSP reports of its own", () => {
    expectNoPageProblems(web());
  });
});
