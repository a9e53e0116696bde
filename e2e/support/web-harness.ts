import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { startAppServer, type AppServer } from "./app-server.ts";
import {
  type AxeFinding,
  isCausedByAxe,
  isSeriousOrCritical,
  recordCspViolations,
  recordPageProblems,
  runAxe,
} from "./browser-checks.ts";
import { CHROMIUM_PATH, hasChromium, launchChromium } from "./chromium.ts";
import { ARTIFACTS_DIR } from "./server-process.ts";

/*
 * What a browser test of the web app needs around its pages: one started server and one Chromium per file,
 * pages in contexts of their own (each a separate person), people made and signed in the way the app's own
 * forms do it, the API called as one of them, and the page problems, CSP reports and axe findings collected.
 */

export const PASSWORD = "correct horse battery";
/** How long a test waits for something that should show up live. */
export const LIVE_MS = 15_000;

export interface Person {
  name: string;
  email: string;
}

/** A person with a unique email address, so files and reruns never collide. */
export function person(name: string): Person {
  return { name, email: `${name.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}@example.test` };
}

export interface PageOptions {
  locale?: string;
  timezoneId?: string;
  width?: number;
  height?: number;
}

export interface WebHarness {
  app: AppServer;
  base: string;
  /** A page in a fresh browser context (its own cookies: one person). */
  openPage(options?: PageOptions): Promise<Page>;
  /** Creates the account through the API from inside the page: the refresh cookie lands in its context. */
  registerIn(page: Page, who: Person): Promise<void>;
  /** Signs in from inside the page, as the sign-in form does; the next navigation starts signed in. */
  signInIn(page: Page, who: Person): Promise<void>;
  /** Creates the account from the test (no browser). The first account of the server is its admin. */
  register(who: Person): Promise<void>;
  /** Calls the API from the test as `who` and returns status and JSON body. */
  apiAs(
    who: Person,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }>;
  /** Creates and publishes an event as `who` (a concert next year unless `fields` say otherwise). */
  publishEvent(who: Person, fields?: Record<string, unknown>): Promise<{ id: string; title: string }>;
  /** Runs axe in the page and fails on serious or critical findings. */
  axe(page: Page, name: string): Promise<void>;
  screenshot(page: Page, name: string): Promise<void>;
  /** Console errors and uncaught exceptions of every page closed so far. */
  problems: string[];
  /** CSP reports of every page closed so far. */
  cspViolations: string[];
  axeResults: Map<string, AxeFinding[]>;
  close(): Promise<void>;
}

/**
 * The harness of the enclosing describe block: started in its beforeAll (then `setUp`, e.g. the people every
 * test of the file uses), closed in its afterAll. Returns the getter the tests call it through.
 */
export function useWebHarness(
  name: string,
  setUp: (web: WebHarness) => Promise<void> = () => Promise.resolve(),
): () => WebHarness {
  let harness: WebHarness | undefined;
  beforeAll(async () => {
    if (!hasChromium)
      throw new Error(`Chromium not found at ${CHROMIUM_PATH}, and TURNOUT_REQUIRE_ALL_TIERS=1 requires it`);
    harness = await startWebHarness(name);
    await setUp(harness);
  });
  afterAll(async () => {
    await harness?.close();
  });
  return () => {
    if (harness === undefined) throw new Error("beforeAll did not finish");
    return harness;
  };
}

/** Fails on a console error or uncaught exception of the pages closed so far, or a CSP report not caused by axe. */
export function expectNoPageProblems(web: WebHarness): void {
  expect(web.problems).toEqual([]);
  expect(web.cspViolations.filter((violation) => !isCausedByAxe(violation))).toEqual([]);
}

export async function startWebHarness(name: string): Promise<WebHarness> {
  const app = await startAppServer(name);
  let browser: Browser;
  try {
    browser = await launchChromium();
  } catch (error) {
    await app.close();
    throw error;
  }
  const base = app.server.baseUrl;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  const cspViolations: string[] = [];
  const axeResults = new Map<string, AxeFinding[]>();
  const tokens = new Map<string, string>();

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  async function tokenOf(who: Person): Promise<string> {
    const known = tokens.get(who.email);
    if (known !== undefined) return known;
    const response = await post("/api/auth/login", { email: who.email, password: PASSWORD });
    expect(response.status, `login of ${who.email}`).toBe(200);
    const { accessToken } = (await response.json()) as { accessToken: string };
    tokens.set(who.email, accessToken);
    return accessToken;
  }

  async function authFromPage(page: Page, path: string, body: unknown): Promise<number> {
    return page.evaluate(
      `fetch(${JSON.stringify(path)}, { method: "POST", headers: { "content-type": "application/json" },
        body: ${JSON.stringify(JSON.stringify(body))} }).then((r) => r.status)`,
    );
  }

  async function apiAs(who: Person, method: string, path: string, body?: unknown) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await tokenOf(who)}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
  }

  async function publishEvent(who: Person, fields: Record<string, unknown> = {}) {
    const created = expectStatus(
      await apiAs(who, "POST", "/api/events", {
        title: `Event ${crypto.randomUUID().slice(0, 8)}`,
        description: "Made by a browser test.",
        startsAt: "2027-05-14T17:00:00Z",
        endsAt: "2027-05-14T21:00:00Z",
        timezone: "Europe/Berlin",
        venue: { name: "Test Hall", address: "Teststraße 1, Berlin" },
        category: "music",
        ...fields,
      }),
      201,
    ) as { id: string; title: string };
    expectStatus(await apiAs(who, "POST", `/api/events/${created.id}/publish`, {}), 200);
    return created;
  }

  return {
    app,
    base,
    problems,
    cspViolations,
    axeResults,
    async openPage(options = {}) {
      const context = await browser.newContext({
        locale: options.locale ?? "en-US",
        timezoneId: options.timezoneId ?? "Europe/Berlin",
        viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
      });
      contexts.push(context);
      const page = await context.newPage();
      const pageProblems = recordPageProblems(page);
      const violations = await recordCspViolations(page);
      page.on("close", () => {
        problems.push(...pageProblems);
        cspViolations.push(...violations);
      });
      return page;
    },
    async registerIn(page, who) {
      await page.goto(`${base}/me`);
      expect(await authFromPage(page, "/api/auth/register", { ...who, password: PASSWORD })).toBe(201);
    },
    async signInIn(page, who) {
      await page.goto(`${base}/me`);
      const body = { email: who.email, password: PASSWORD };
      expect(await authFromPage(page, "/api/auth/login", body)).toBe(200);
    },
    async register(who) {
      const response = await post("/api/auth/register", { ...who, password: PASSWORD });
      expect(response.status, `register ${who.email}`).toBe(201);
      tokens.set(who.email, ((await response.json()) as { accessToken: string }).accessToken);
    },
    apiAs,
    publishEvent,
    async axe(page, pageName) {
      const findings = await runAxe(page);
      axeResults.set(pageName, findings);
      expect(findings.filter(isSeriousOrCritical), `axe on ${pageName}`).toEqual([]);
    },
    async screenshot(page, shotName) {
      const dir = join(ARTIFACTS_DIR, "screenshots");
      await mkdir(dir, { recursive: true });
      await page.screenshot({ path: join(dir, `${shotName}.png`), fullPage: true });
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
      await app.close();
      process.stdout.write(
        `axe results (violations by impact) in ${name}:\n${[...axeResults]
          .map(
            ([page, found]) => `  ${page}: ${found.map((f) => `${f.id}(${f.impact})`).join(", ") || "none"}`,
          )
          .join("\n")}\n`,
      );
    },
  };
}

/** The JSON body of an API answer, after checking its status. */
export function expectStatus(answer: { status: number; body: unknown }, status: number): unknown {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  return answer.body;
}

/** Polls `probe` until it gives a value (not undefined); fails naming `what` after `ms`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
