import { readBrowser } from "./browser.ts";
import { createTracker, type Properties, type Tracker, type TrackerOptions } from "./tracker.ts";

export { createTracker, SESSION_IDLE_MS } from "./tracker.ts";
export type { Properties, Tracker, TrackerOptions } from "./tracker.ts";
export type { BrowserParts, KeyValueStore, PageInfo, SendResult } from "./browser.ts";

// The page's one tracker, made by init(); calls before init() (or outside a browser) do nothing.
let current: Tracker | null = null;

/** Starts the page's tracker; a second call replaces the first one's settings. Never throws. */
export function init(options: TrackerOptions): void {
  try {
    const browser = readBrowser();
    current = browser === null ? null : createTracker(options, browser);
  } catch {
    current = null;
  }
}

/** Records a page view of the current location. */
export function page(properties?: Properties): void {
  current?.page(properties);
}

/** Records a named action (`join_clicked`, `joined`...). */
export function track(name: string, properties?: Properties): void {
  current?.track(name, properties);
}

/** Names the signed-in user on this and later interactions; null forgets them (sign-out). */
export function identify(userId: string | null, traits?: Properties): void {
  current?.identify(userId, traits);
}

export function optOut(): void {
  current?.optOut();
}

export function optIn(): void {
  current?.optIn();
}

/** Sends what waits now. */
export function flush(): Promise<void> {
  return current?.flush() ?? Promise.resolve();
}
