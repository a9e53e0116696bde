import { expect, it } from "vitest";
import { summarizeUserAgent, truncateIp } from "./client-stamps.ts";

it("keeps only the network part of an address", () => {
  expect(truncateIp("203.0.113.77")).toBe("203.0.113.0");
  expect(truncateIp("::ffff:198.51.100.9")).toBe("198.51.100.0");
  expect(truncateIp("2001:db8:85a3:8d3:1319:8a2e:370:7348")).toBe("2001:db8:85a3::");
  expect(truncateIp("2001:db8::1")).toBe("2001:db8:0::");
  expect(truncateIp("::1")).toBe("0:0:0::");
  expect(truncateIp("not-an-ip")).toBeNull();
  expect(truncateIp(undefined)).toBeNull();
});

it("reads device, browser and system from common user agents", () => {
  const cases: [string, ReturnType<typeof summarizeUserAgent>][] = [
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
      { device: "desktop", browser: "Edge", os: "Windows" },
    ],
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
      { device: "mobile", browser: "Safari", os: "iOS" },
    ],
    [
      "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
      { device: "tablet", browser: "Chrome", os: "Android" },
    ],
    [
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
      { device: "desktop", browser: "Firefox", os: "macOS" },
    ],
    ["Googlebot/2.1 (+http://www.google.com/bot.html)", { device: "bot", browser: "unknown", os: "unknown" }],
    ["analytics-node-next/latest", { device: "unknown", browser: "Server SDK", os: "unknown" }],
    ["", { device: "unknown", browser: "unknown", os: "unknown" }],
  ];
  for (const [ua, expected] of cases) expect(summarizeUserAgent(ua), ua).toEqual(expected);
});
