import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";

const apps = new Map<string, TestApp>();
const settings = ["", "1", "2", "10.0.0.0/8, 192.168.1.1"];

beforeAll(async () => {
  for (const setting of settings) {
    apps.set(
      setting,
      await createTestApp({
        env: { TRUST_PROXY: setting, RATE_LIMIT_LOGIN_FAILURES: "1" },
        configure: (app) => {
          app.get("/test/ip", { schema: { hide: true } }, (request) => ({ ip: request.ip }));
        },
      }),
    );
  }
});
afterAll(() => Promise.all([...apps.values()].map((each) => each.close())));

function appFor(setting: string): TestApp {
  const found = apps.get(setting);
  if (found === undefined) throw new Error(`no app for TRUST_PROXY=${setting}`);
  return found;
}

async function seenIp(setting: string, remoteAddress: string, forwardedFor?: string): Promise<string> {
  const response = await appFor(setting).app.inject({
    method: "GET",
    url: "/test/ip",
    remoteAddress,
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
  });
  expect(response.statusCode).toBe(200);
  return response.json<{ ip: string }>().ip;
}

describe("TRUST_PROXY", () => {
  it("off by default: X-Forwarded-For is ignored", async () => {
    expect(await seenIp("", "10.0.0.1", "198.51.100.1")).toBe("10.0.0.1");
  });

  it("a hop count believes that many proxies from the right, never the client's own entries", async () => {
    expect(await seenIp("1", "10.0.0.1", "6.6.6.6, 203.0.113.7")).toBe("203.0.113.7");
    expect(await seenIp("1", "10.0.0.1")).toBe("10.0.0.1");
    expect(await seenIp("2", "10.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.2")).toBe("203.0.113.7");
  });

  it("a list believes only the named proxies and CIDRs", async () => {
    const list = "10.0.0.0/8, 192.168.1.1";
    expect(await seenIp(list, "10.0.0.1", "6.6.6.6, 203.0.113.7")).toBe("203.0.113.7");
    expect(await seenIp(list, "192.168.1.1", "6.6.6.6, 10.20.30.40")).toBe("6.6.6.6");
    // Not a listed proxy: its header is the client's own writing.
    expect(await seenIp(list, "203.0.113.50", "6.6.6.6")).toBe("203.0.113.50");
  });

  it("a forged leftmost entry does not escape the login limit behind one proxy", async () => {
    const t = appFor("1");
    const account = await createUser(t);
    const attempt = (forged: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/auth/login",
        payload: { email: account.user.email, password: "wrong-password" },
        remoteAddress: "10.0.0.1",
        headers: { "x-forwarded-for": `${forged}, 203.0.113.9` },
      });
    expect((await attempt("1.1.1.1")).statusCode).toBe(401);
    const second = await attempt("2.2.2.2");
    expect(second.statusCode).toBe(429);
    expect(errorCode(second)).toBe("rate_limited");
    const counters = await t.deps.db
      .selectFrom("rate_limit_counters")
      .select(["scope", "key"])
      .where("scope", "like", "login.%")
      .execute();
    expect(counters.map((row) => row.key).sort()).toEqual([
      "203.0.113.9",
      `203.0.113.9\n${account.user.email}`,
    ]);
  });
});
