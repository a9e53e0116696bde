/**
 * The parts of the browser the tracker uses, in one object: the tracker never reaches for a global itself,
 * so unit tests hand it their own and a page without some API (no localStorage in a sandboxed frame, no
 * sendBeacon) simply has that part missing.
 */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface SendResult {
  status: number;
  /** Seconds, from a Retry-After header; null without one. */
  retryAfterSeconds: number | null;
}

export interface PageInfo {
  path: string;
  url: string;
  title: string;
  referrer: string;
}

export interface BrowserParts {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  randomBytes(count: number): Uint8Array;
  /** POSTs the text; rejects on a network failure. */
  post(url: string, body: string): Promise<SendResult>;
  /** navigator.sendBeacon; false when the browser refused or has none. */
  beacon(url: string, body: string): boolean;
  storage: KeyValueStore | null;
  page(): PageInfo | null;
  userAgent: string | undefined;
  locale: string | undefined;
  screen(): { width: number; height: number } | undefined;
  /** Do Not Track or Global Privacy Control is on. */
  isDoNotTrack: boolean;
  /** Calls `listener` when the page is being hidden for good (pagehide) or put in the background. */
  onLeave(listener: () => void): void;
  /** Calls `listener` after every history navigation (pushState, replaceState, back/forward). */
  onNavigate(listener: () => void): void;
}

interface DomWindow {
  location: { pathname: string; href: string };
  document: { title: string; referrer: string; visibilityState?: string; addEventListener: AddListener };
  navigator: {
    userAgent: string;
    language?: string;
    doNotTrack?: string | null;
    globalPrivacyControl?: boolean;
    sendBeacon?: (url: string, data: Blob | string) => boolean;
  };
  screen?: { width: number; height: number };
  localStorage?: KeyValueStore;
  doNotTrack?: string | null;
  history: { pushState: HistoryChange; replaceState: HistoryChange };
  addEventListener: AddListener;
  crypto: { getRandomValues<T extends Uint8Array>(array: T): T };
  fetch: (
    url: string,
    init: { method: string; body: string; keepalive: boolean; headers: Record<string, string> },
  ) => Promise<{ status: number; headers: { get(name: string): string | null } }>;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
type AddListener = (type: string, listener: () => void) => void;
type HistoryChange = (data: unknown, unused: string, url?: string | URL | null) => void;

/** The real browser's parts; null outside a browser (server-side rendering), where the tracker stays idle. */
export function readBrowser(): BrowserParts | null {
  const w = globalThis as unknown as Partial<DomWindow>;
  if (w.location === undefined || w.document === undefined || w.navigator === undefined) return null;
  const win = w as DomWindow;
  return {
    now: () => Date.now(),
    setTimeout: (run, ms) => win.setTimeout(run, ms),
    clearTimeout: (handle) => {
      win.clearTimeout(handle);
    },
    randomBytes: (count) => win.crypto.getRandomValues(new Uint8Array(count)),
    // text/plain keeps a cross-origin POST "simple": no CORS preflight before every batch.
    post: async (url, body) => {
      const response = await win.fetch(url, {
        method: "POST",
        body,
        keepalive: body.length < 60_000,
        headers: { "content-type": "text/plain" },
      });
      const retryAfter = Number(response.headers.get("retry-after"));
      return { status: response.status, retryAfterSeconds: retryAfter > 0 ? retryAfter : null };
    },
    beacon: (url, body) => {
      const sendBeacon = win.navigator.sendBeacon;
      return sendBeacon === undefined ? false : sendBeacon.call(win.navigator, url, body);
    },
    storage: readStorage(win),
    page: () => ({
      path: win.location.pathname,
      url: win.location.href,
      title: win.document.title,
      referrer: win.document.referrer,
    }),
    userAgent: win.navigator.userAgent,
    locale: win.navigator.language,
    screen: () => (win.screen ? { width: win.screen.width, height: win.screen.height } : undefined),
    isDoNotTrack:
      win.navigator.doNotTrack === "1" ||
      win.doNotTrack === "1" ||
      win.navigator.globalPrivacyControl === true,
    onLeave: (listener) => {
      win.addEventListener("pagehide", listener);
      win.document.addEventListener("visibilitychange", () => {
        if (win.document.visibilityState === "hidden") listener();
      });
    },
    onNavigate: (listener) => {
      for (const method of ["pushState", "replaceState"] as const) {
        const original = win.history[method];
        win.history[method] = function (this: unknown, ...args: Parameters<HistoryChange>) {
          original.apply(this, args);
          listener();
        };
      }
      win.addEventListener("popstate", listener);
    },
  };
}

// Reading localStorage throws in some sandboxed frames and with storage disabled.
function readStorage(win: DomWindow): KeyValueStore | null {
  try {
    const storage = win.localStorage ?? null;
    storage?.getItem("turnout:probe");
    return storage;
  } catch {
    return null;
  }
}
