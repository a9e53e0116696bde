import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAppServer, type AppServer } from "./support/app-server.ts";
import { ARTIFACTS_DIR, type ServerProcess } from "./support/server-process.ts";
import { CHROMIUM_PATH, hasChromium, launchChromium, skipWithoutChromium } from "./support/chromium.ts";
import { recordCspViolations, recordPageProblems } from "./support/browser-checks.ts";

// CI sets this so a missing browser fails the run instead of silently shrinking it.
const shouldSkip = skipWithoutChromium("browser tier");

describe.skipIf(shouldSkip)("web shell served by the real server, in Chromium", () => {
  let app: AppServer | undefined;
  let server: ServerProcess | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!hasChromium) {
      throw new Error(
        `Chromium not found at ${CHROMIUM_PATH}, and TURNOUT_REQUIRE_ALL_TIERS=1 requires the browser tier`,
      );
    }
    app = await startAppServer("web-shell");
    server = app.server;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it.each([
    { path: "/", shot: "home", text: "Discover events" },
    { path: "/events/whatever", shot: "client-route", text: "This event does not exist" },
  ])("renders the app at $path", async ({ path, shot, text }) => {
    if (browser === undefined || server === undefined) throw new Error("beforeAll did not finish");
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
    const problems = recordPageProblems(page);
    page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));

    const violations = await recordCspViolations(page);

    const response = await page.goto(`${server.baseUrl}${path}`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-type"]).toMatch(/^text\/html/);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    // The text renders only once the bundle ran (and, for the event, the API answered through the browser).
    await page.getByText(text).first().waitFor({ timeout: 15_000 });
    expect(await page.title()).toBe("Turnout");
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, `web-shell-${shot}.png`), fullPage: true });
    expect(problems).toEqual([]);
    expect(violations).toEqual([]);
    await page.close();
  });

  it("renders the API reference page under its Content-Security-Policy", async () => {
    if (browser === undefined || server === undefined) throw new Error("beforeAll did not finish");
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    const violations = await recordCspViolations(page);

    const response = await page.goto(`${server.baseUrl}/api/docs`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    // The operations list renders only once the bundle ran and fetched the OpenAPI document.
    await page.locator(".opblock-tag", { hasText: "events" }).first().waitFor({ timeout: 15_000 });
    expect(await page.locator(".info .title").textContent()).toContain("Turnout API");
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, "api-docs.png") });
    expect(problems).toEqual([]);
    expect(violations).toEqual([]);
    await page.close();
  });

  // Runs last: it ends the server the other tests use.
  it("exits with code 0 within 10 s of SIGTERM", async () => {
    if (server === undefined) throw new Error("beforeAll did not finish");
    const exit = await server.stop(10_000);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(10_000);
    expect(exit.errorsWhileStopping).toEqual([]);
  });
});
