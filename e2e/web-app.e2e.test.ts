import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { skipWithoutChromium } from "./support/chromium.ts";
import {
  LIVE_MS,
  PASSWORD,
  type Person,
  person,
  expectNoPageProblems,
  useWebHarness,
  type PageOptions,
} from "./support/web-harness.ts";

/*
 * The web app in real Chromium against a started server (issue 12's five flows). One server for the file; the
 * flows run in order and build on each other (the organizer of flow 1 is the organizer of flow 2...).
 */

const shouldSkip = skipWithoutChromium("web app browser tests");

const FIRST_PAGE_JS_BUDGET = 200 * 1024;

describe.skipIf(shouldSkip)("the web app in Chromium", () => {
  const web = useWebHarness("web-app");
  const base = () => web().base;
  const openPage = (options?: PageOptions) => web().openPage(options);
  const axe = (page: Page, name: string) => web().axe(page, name);
  const screenshot = (page: Page, name: string) => web().screenshot(page, name);
  const registerIn = (page: Page, who: Person) => web().registerIn(page, who);
  const organizer = person("Olivia");
  let publishedEventId = "";

  /** Calls the API from the test as `who`; fails unless it answered 2xx. */
  async function apiAs(who: Person, method: string, path: string, body?: unknown): Promise<unknown> {
    const answer = await web().apiAs(who, method, path, body);
    expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
    return answer.body;
  }

  /** Marks the document; still marked later means the page changed live, without a reload. */
  async function markDocument(page: Page): Promise<void> {
    await page.evaluate("window.__notReloaded = true");
  }
  async function expectNotReloaded(page: Page): Promise<void> {
    expect(await page.evaluate("window.__notReloaded === true")).toBe(true);
  }

  it("serves the first page's JavaScript compressed, cached immutable, and under 200 KB gzipped", async () => {
    const page = await openPage();
    const scripts = new Set<string>();
    page.on("response", (response) => {
      if (response.url().endsWith(".js")) scripts.add(response.url());
    });
    await page.goto(`${base()}/`);
    await page.getByRole("heading", { name: "Discover events" }).waitFor({ timeout: LIVE_MS });
    await page.getByText("No events match").waitFor({ timeout: LIVE_MS });
    await axe(page, "discover (empty)");
    let gzipped = 0;
    for (const url of scripts) {
      const response = await fetch(url, { headers: { "accept-encoding": "gzip" } });
      await response.arrayBuffer();
      expect(response.headers.get("content-encoding")).toBe("gzip");
      expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      gzipped += Number(response.headers.get("content-length"));
    }
    const brotli = await fetch([...scripts][0] ?? "", { headers: { "accept-encoding": "br, gzip" } });
    expect(brotli.headers.get("content-encoding")).toBe("br");
    process.stdout.write(
      `first page JavaScript: ${scripts.size} files, ${(gzipped / 1024).toFixed(1)} KiB gzipped\n`,
    );
    expect(scripts.size).toBeGreaterThan(1); // the entry and the Discover route's own chunk
    expect(gzipped).toBeLessThan(FIRST_PAGE_JS_BUDGET);
    await page.close();
  });

  it("1: signs up, shows the API's message on the field, publishes; Discover in another context shows it live", async () => {
    const watcher = await openPage();
    await watcher.goto(`${base()}/`);
    await watcher.getByText("No events match").waitFor({ timeout: LIVE_MS });
    await markDocument(watcher);

    const page = await openPage();
    await page.goto(`${base()}/me`);
    await axe(page, "me (signed out)");
    await page.getByRole("button", { name: "New here? Create an account" }).click();
    await page.getByLabel("Name").fill(organizer.name);
    await page.getByLabel("Email").fill(organizer.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.getByRole("heading", { name: organizer.name }).waitFor({ timeout: LIVE_MS });
    await page.getByText("You have not created any events yet.").waitFor({ timeout: LIVE_MS });
    await axe(page, "me (signed in)");

    await page.getByRole("navigation").getByRole("link", { name: "Create event" }).click();
    await page.getByLabel("Title").fill("Rooftop jazz night");
    await page.getByLabel("Description").fill("A quartet, a sunset and the city below.");
    await page.getByLabel("Starts").fill("2027-03-12T19:00");
    await page.getByLabel("Ends").fill("2027-03-12T18:00"); // the mistake: before the start
    await page.getByLabel("Time zone").selectOption("Europe/Berlin");
    await page.getByLabel("Venue name").fill("Skyline Terrace");
    await page.getByLabel("Venue address").fill("Torstraße 1, 10119 Berlin");
    await page.getByLabel("Category").selectOption("music");
    await page.getByLabel("Capacity (empty: unlimited)").fill("40");
    await page.getByRole("button", { name: "Save draft" }).click();

    const endsError = page.locator('[data-error-for="field-endsAt"]');
    await endsError.waitFor({ timeout: LIVE_MS });
    expect(await endsError.textContent()).toBe("must be after startsAt");
    expect(await page.getByLabel("Ends").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("[data-error-for]").count()).toBe(1);
    await axe(page, "create (with a field error)");
    await screenshot(page, "create-with-error");

    await page.getByLabel("Ends").fill("2027-03-12T23:00");
    await page.getByRole("button", { name: "Save draft" }).click();
    await page.getByText("Saved.").waitFor({ timeout: LIVE_MS });
    expect(page.url()).toMatch(/\/events\/[0-9a-f-]{36}\/edit/);
    publishedEventId = /\/events\/([0-9a-f-]{36})\/edit/.exec(page.url())?.[1] ?? "";
    await axe(page, "edit (draft)");
    await page.getByRole("button", { name: "Publish" }).click();
    await page.getByText("Published.").waitFor({ timeout: LIVE_MS });

    await watcher.getByRole("link", { name: "Rooftop jazz night" }).waitFor({ timeout: LIVE_MS });
    await expectNotReloaded(watcher);
    await axe(watcher, "discover (with events)");
    await page.close();
    await watcher.close();
  });

  it("2: capacity 1: both see the seat taken live, the third is 1st on the waitlist and is promoted live", async () => {
    const created = (await apiAs(organizer, "POST", "/api/events", {
      title: "Tiny pottery class",
      description: "One wheel, one guest.",
      startsAt: "2027-04-02T16:00:00Z",
      endsAt: "2027-04-02T18:00:00Z",
      timezone: "Europe/Berlin",
      venue: { name: "Clay Studio", address: "Kastanienallee 5, Berlin" },
      category: "arts",
      capacity: 1,
    })) as { id: string };
    await apiAs(organizer, "POST", `/api/events/${created.id}/publish`, {});
    const eventUrl = `${base()}/events/${created.id}`;

    const second = await openPage();
    await registerIn(second, person("Ben"));
    const third = await openPage();
    await registerIn(third, person("Cleo"));
    for (const page of [second, third]) {
      await page.goto(eventUrl);
      await page.getByText("1 of 1 seats left").waitFor({ timeout: LIVE_MS });
      await markDocument(page);
    }

    // Signed in after the reload through the HttpOnly cookie alone: no token is kept where scripts can read it.
    const stored = String(
      await second.evaluate(
        "JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie",
      ),
    );
    expect(stored).not.toMatch(/eyJ|turnout_refresh/);

    // A double click is one intent: one join, one seat.
    await second.getByRole("button", { name: "Join", exact: true }).dblclick();
    await second.getByText("You're in!").waitFor({ timeout: LIVE_MS });
    await second.getByTestId("ticket").waitFor({ timeout: LIVE_MS });
    await third.getByText("0 of 1 seats left").waitFor({ timeout: LIVE_MS });
    await second.getByText("0 of 1 seats left").waitFor({ timeout: LIVE_MS });
    const stats = (await apiAs(organizer, "GET", `/api/events/${created.id}/stats`)) as { confirmed: number };
    expect(stats.confirmed).toBe(1);
    await axe(second, "event (confirmed, with ticket)");
    await screenshot(second, "event-confirmed");

    await third.getByRole("button", { name: "Join the waitlist" }).click();
    await third.getByText("You are 1st on the waitlist").waitFor({ timeout: LIVE_MS });
    await second.getByText("1 on the waitlist").waitFor({ timeout: LIVE_MS });
    await axe(third, "event (waitlisted)");

    await second.getByRole("button", { name: "Leave" }).click();
    await third.getByText("You're in!").waitFor({ timeout: LIVE_MS });
    await third.getByTestId("ticket").waitFor({ timeout: LIVE_MS });
    await expectNotReloaded(third);
    await expectNotReloaded(second);

    // The organizer's view of the event: Cleo confirmed, nobody waiting.
    const host = await openPage();
    await web().signInIn(host, organizer);
    await host.goto(`${eventUrl}/manage`);
    const confirmedList = host.getByRole("region", { name: "Confirmed" });
    await confirmedList.getByRole("listitem").filter({ hasText: "Cleo" }).waitFor({ timeout: LIVE_MS });
    await host
      .getByRole("region", { name: "Waitlist" })
      .getByText("Nobody yet.")
      .waitFor({ timeout: LIVE_MS });
    await axe(host, "organizer view");
    await screenshot(host, "organizer-view");

    // The app tracked itself: the join click and the join, naming the event (issue 14).
    const tracked = await waitForInteractions(created.id, ["join_clicked", "joined"]);
    expect(tracked.filter((name) => name === "joined").length).toBe(2);
    await Promise.all([second.close(), third.close(), host.close()]);
  });

  async function waitForInteractions(eventId: string, names: string[]): Promise<string[]> {
    const deadline = Date.now() + 30_000;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      const page = (await apiAs(
        organizer,
        "GET",
        `/api/analytics/interactions?eventId=${eventId}&type=track&limit=100`,
      )) as {
        items: { name?: string }[];
      };
      seen = page.items.map((item) => item.name ?? "");
      if (names.every((name) => seen.includes(name)) && seen.filter((n) => n === "joined").length >= 2)
        return seen;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return seen;
  }

  it("3: a stale edit is caught with a clear message", async () => {
    const signIn = async (page: Page) => {
      await web().signInIn(page, organizer);
      await page.goto(`${base()}/events/${publishedEventId}/edit`);
      await page.getByLabel("Title").waitFor({ timeout: LIVE_MS });
    };
    const first = await openPage();
    await signIn(first);
    const other = await openPage();
    await signIn(other);

    await other.getByLabel("Title").fill("Rooftop jazz night (moved indoors)");
    await other.getByRole("button", { name: "Save changes" }).click();
    await other.getByText("Saved.").waitFor({ timeout: LIVE_MS });

    await first.getByLabel("Description").fill("Changed from a page that never saw the other change.");
    await first.getByRole("button", { name: "Save changes" }).click();
    await first.getByText("Someone changed this event while you were editing.").waitFor({ timeout: LIVE_MS });
    await axe(first, "edit (stale)");
    await first.getByRole("button", { name: "Reload" }).click();
    await expect
      .poll(() => first.getByLabel("Title").inputValue(), { timeout: LIVE_MS })
      .toBe("Rooftop jazz night (moved indoors)");
    await Promise.all([first.close(), other.close()]);
  });

  it("4: in a de-DE browser the event page speaks German and formats dates the German way; English on request", async () => {
    const page = await openPage({ locale: "de-DE", timezoneId: "Europe/Berlin" });
    await page.goto(`${base()}/events/${publishedEventId}`);
    await page.getByText("40 von 40 Plätzen frei").waitFor({ timeout: LIVE_MS });
    const text = (await page.locator("main").textContent()) ?? "";
    expect(text).toContain("12. März 2027");
    expect(text).toContain("19:00");
    expect(text).toContain("Organisiert von Olivia");
    expect(await page.getByRole("link", { name: "Zum Teilnehmen anmelden" }).count()).toBe(1);
    expect(await page.evaluate("document.documentElement.lang")).toBe("de");
    await axe(page, "event (German, signed out)");
    await screenshot(page, "event-de");

    // Switchable, and the choice outlives a reload.
    await page.getByLabel("Sprache").selectOption("en");
    await page.getByText("40 of 40 seats left").waitFor({ timeout: LIVE_MS });
    await page.reload();
    await page.getByText("40 of 40 seats left").waitFor({ timeout: LIVE_MS });
    expect(await page.evaluate("document.documentElement.lang")).toBe("en");
    await page.close();
  });

  it("5: the event page at 360 px has no horizontal scroll, and every page passed axe", async () => {
    const page = await openPage({ width: 360, timezoneId: "America/New_York" });
    await page.goto(`${base()}/events/${publishedEventId}`);
    await page.getByText("40 of 40 seats left").waitFor({ timeout: LIVE_MS });
    // The viewer's time and the event's own zone both show when they differ.
    await page.getByText("Europe/Berlin, the event's time zone", { exact: false }).waitFor();
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(360);
    await axe(page, "event (360 px)");
    await screenshot(page, "event-360px");
    await page.close();

    const discover = await openPage();
    await discover.goto(`${base()}/`);
    await discover.getByRole("link", { name: "Tiny pottery class" }).waitFor({ timeout: LIVE_MS });
    await discover.getByRole("link", { name: /Rooftop jazz night/ }).waitFor({ timeout: LIVE_MS });
    await screenshot(discover, "discover");
    await discover.close();

    expect([...web().axeResults.keys()].sort()).toEqual(
      [
        "create (with a field error)",
        "discover (empty)",
        "discover (with events)",
        "edit (draft)",
        "edit (stale)",
        "event (360 px)",
        "event (German, signed out)",
        "event (confirmed, with ticket)",
        "event (waitlisted)",
        "me (signed in)",
        "me (signed out)",
        "organizer view",
      ].sort(),
    );
    expectNoPageProblems(web());
  });
  // Runs last: it stops the server the other tests use.
  it("shows 'Reconnecting…' once the live channel has been down for a moment", async () => {
    const page = await openPage();
    await page.goto(`${base()}/events/${publishedEventId}`);
    await page.getByText("40 of 40 seats left").waitFor({ timeout: LIVE_MS });
    const banner = page.getByTestId("reconnecting");
    expect(await banner.count()).toBe(0);
    await web().app.server.stop(15_000);
    await banner.waitFor({ timeout: LIVE_MS });
    expect(await banner.textContent()).toContain("Reconnecting to live updates");
    // The page stays as it was: the event is still shown while the client keeps trying.
    expect(await page.getByText("40 of 40 seats left").count()).toBe(1);
    await page.close();
  });
});
