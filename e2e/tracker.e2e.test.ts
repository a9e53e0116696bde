import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withAdminClient } from "../apps/server/test/admin-sql.ts";
import { startAppServer, type AppServer } from "./support/app-server.ts";
import type { ScratchDatabase } from "./support/scratch-database.ts";
import { REPO_ROOT, type ServerProcess } from "./support/server-process.ts";
import { launchChromium, skipWithoutChromium } from "./support/chromium.ts";

// The tracker's script-tag build on a page of another origin, in real Chromium, sending to a real Turnout
// (collector and processor): batched fetches, a history page view, and a sendBeacon on pagehide.

const shouldSkip = skipWithoutChromium("tracker browser test");

const TRACKER_DIR = join(REPO_ROOT, "packages/tracker");

describe.skipIf(shouldSkip)("tracker SDK in Chromium against a real collector", () => {
  let app: AppServer | undefined;
  let database: ScratchDatabase | undefined;
  let server: ServerProcess | undefined;
  let site: Server | undefined;
  let siteUrl = "";
  let browser: Browser | undefined;

  beforeAll(async () => {
    execFileSync(process.execPath, ["--import", "tsx", "build.ts"], { cwd: TRACKER_DIR });
    const script = await readFile(join(TRACKER_DIR, "dist/tracker.min.js"));
    app = await startAppServer("tracker");
    ({ server, database } = app);
    const collectUrl = `${server.baseUrl}/api/collect`;
    // Another origin than Turnout's, as a site embedding the tracker would be.
    site = createServer((request, response) => {
      if (request.url === "/tracker.min.js") {
        response.writeHead(200, { "content-type": "text/javascript" }).end(script);
        return;
      }
      response.writeHead(200, { "content-type": "text/html" }).end(
        `<!doctype html><title>Partner page</title>
         <script src="/tracker.min.js" data-endpoint="${collectUrl}" data-track-history></script>`,
      );
    });
    await new Promise<void>((resolve) => site?.listen(0, "127.0.0.1", resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
    await app?.close();
  });

  async function interactionCount(stage: "accepted" | "loaded"): Promise<number> {
    const text = await (await fetch(`${server?.baseUrl ?? ""}/metrics`)).text();
    const match = new RegExp(`^interactions_total\\{stage="${stage}"\\} (\\d+)$`, "m").exec(text);
    return Number(match?.[1] ?? 0);
  }

  it("sends page views and actions by fetch, the rest by sendBeacon on pagehide, and they are stored", async () => {
    if (browser === undefined || server === undefined) throw new Error("beforeAll did not finish");
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    const collectRequests: string[] = [];
    page.on("request", (request) => {
      if (request.url().endsWith("/api/collect")) collectRequests.push(request.method());
    });

    await page.goto(`${siteUrl}/events`);
    await page.evaluate(`(async () => {
      history.pushState({}, "", "/events/42");
      turnout.track("join_clicked", { eventId: "00000000-0000-7000-8000-000000000042" });
      turnout.identify("user-42");
      await turnout.flush();
    })()`);
    await expect.poll(() => interactionCount("accepted"), { timeout: 15_000 }).toBe(4);
    // Queued, not yet sent: these leave by sendBeacon as the page goes away.
    await page.evaluate(`turnout.track("joined", { eventId: "00000000-0000-7000-8000-000000000042" });
      turnout.track("shared");`);
    await page.goto("about:blank");
    await expect.poll(() => interactionCount("accepted"), { timeout: 15_000 }).toBe(6);
    await expect.poll(() => interactionCount("loaded"), { timeout: 30_000 }).toBe(6);
    expect(collectRequests.length).toBeGreaterThanOrEqual(2);
    expect(problems).toEqual([]);

    if (database !== undefined) {
      const rows = await withAdminClient(database.url, async (client) => {
        const result = await client.query<{ type: string; name: string | null; path: string | null }>(
          "SELECT type, name, path FROM interactions",
        );
        return result.rows;
      });
      expect(rows.map((row) => `${row.type}:${row.name ?? ""}:${row.path ?? ""}`).sort()).toEqual([
        "identify::/events/42",
        "page::/events",
        "page::/events/42",
        "track:join_clicked:/events/42",
        "track:joined:/events/42",
        "track:shared:/events/42",
      ]);
    }
    await page.close();
  });
});
