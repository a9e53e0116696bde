import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** The system's Chromium (never a downloaded one); CHROMIUM_PATH overrides the Debian path. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM_PATH);

/** Headless Chromium with the flags a machine without a display, sandbox or network needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/**
 * Whether a file's browser tests must be skipped: Chromium is missing and CI does not require every tier
 * (`TURNOUT_REQUIRE_ALL_TIERS=1`, set by .ci/run, makes a missing Chromium a failure instead). Says so loudly
 * in one line when it skips.
 */
export function skipWithoutChromium(tests: string): boolean {
  const shouldSkip = !hasChromium && process.env.TURNOUT_REQUIRE_ALL_TIERS !== "1";
  if (shouldSkip) process.stderr.write(`SKIPPED: ${tests} — Chromium not found at ${CHROMIUM_PATH}\n`);
  return shouldSkip;
}
