import { isIP } from "node:net";
import type { InteractionStamp } from "@turnout/contracts";

/*
 * What the collector learns about the sender from the request itself. The address is kept only truncated
 * (an IPv4 /24, an IPv6 /48), enough for a country, too little for a person. The user agent is reduced to a
 * device class, a browser family and an operating system family: the full string stays in the interaction's
 * context when the client sent it there.
 */

/** The client's address with the host part zeroed; null for anything that is not an IP address. */
export function truncateIp(address: string | undefined): string | null {
  if (address === undefined) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  switch (isIP(ip)) {
    case 4:
      return ip.replace(/\.\d+$/, ".0");
    case 6:
      return `${expandIpv6(ip).slice(0, 3).join(":")}::`;
    default:
      return null;
  }
}

function expandIpv6(ip: string): string[] {
  const [head = "", tail = ""] = ip.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const zeros = Array.from({ length: Math.max(0, 8 - left.length - right.length) }, () => "0");
  return [...left, ...(ip.includes("::") ? zeros : []), ...right].map((group) =>
    group.replace(/^0+(?=.)/, "").toLowerCase(),
  );
}

export interface UserAgentSummary {
  device: "desktop" | "mobile" | "tablet" | "bot" | "unknown";
  browser: string;
  os: string;
}

// First match wins: Edge and Opera announce Chrome too, Chrome announces Safari.
const BROWSERS: [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, "Edge"],
  [/\b(OPR|Opera)\//, "Opera"],
  [/\bSamsungBrowser\//, "Samsung Internet"],
  [/\b(Firefox|FxiOS)\//, "Firefox"],
  [/\b(Chrome|CriOS|Chromium|HeadlessChrome)\//, "Chrome"],
  [/\bVersion\/[\d.]+.*Safari\//, "Safari"],
  [/^(analytics-node|analytics-python|analytics-ruby|rudder)/i, "Server SDK"],
  [/\b(curl|wget|python-requests|node-fetch|undici)\b/i, "HTTP client"],
];
const SYSTEMS: [RegExp, string][] = [
  [/\bWindows\b/, "Windows"],
  [/\b(iPhone|iPad|iPod)\b/, "iOS"],
  [/\bAndroid\b/, "Android"],
  [/\b(Mac OS X|Macintosh)\b/, "macOS"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bLinux\b/, "Linux"],
];

/** Device class, browser and operating system families of a User-Agent header ("unknown" when unsure). */
export function summarizeUserAgent(userAgent: string | undefined): UserAgentSummary {
  const ua = userAgent ?? "";
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1] ?? "unknown";
  const os = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1] ?? "unknown";
  return { device: deviceOf(ua), browser, os };
}

function deviceOf(ua: string): UserAgentSummary["device"] {
  if (ua === "") return "unknown";
  if (/bot|crawler|spider|slurp|HeadlessChrome/i.test(ua)) return "bot";
  if (/\biPad\b|Tablet|Android(?!.*Mobile)/.test(ua)) return "tablet";
  if (/Mobi|iPhone|iPod|Android/.test(ua)) return "mobile";
  if (/Windows|Macintosh|X11|CrOS|Linux/.test(ua)) return "desktop";
  return "unknown";
}

/** The stamps of a request's items: its source, when it was received, the truncated address, the user agent's summary. */
export function stampRequest(
  sourceId: string,
  receivedAt: Date,
  address: string | undefined,
  userAgent: string | undefined,
): InteractionStamp {
  const { device, browser, os } = summarizeUserAgent(userAgent);
  return { sourceId, receivedAt: receivedAt.toISOString(), ip: truncateIp(address), device, browser, os };
}
