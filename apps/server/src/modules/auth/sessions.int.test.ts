import { authResponseSchema } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createUser } from "../../../test/factories.ts";
import { createPost, errorCode, refreshCookie } from "../../../test/http.ts";

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ env: { RATE_LIMIT_LOGIN_FAILURES: "3" } });
});
afterAll(() => t.close());

const post = createPost(() => t);

describe("refresh", () => {
  it("swaps a refresh token for a new pair; the old one then counts as reuse", async () => {
    const created = await createUser(t);
    const first = await post("/api/auth/refresh", { refreshToken: created.refreshToken });
    expect(first.statusCode).toBe(200);
    const pair = authResponseSchema.parse(first.json());
    expect(pair.refreshToken).not.toBe(created.refreshToken);
    expect(pair.user.id).toBe(created.user.id);
    expect(refreshCookie(first)?.value).toBe(pair.refreshToken);
    const second = await post("/api/auth/refresh", { refreshToken: pair.refreshToken });
    expect(second.statusCode).toBe(200);
  });

  it("on reuse answers 401 auth.token_reused and revokes every token of that login, not other logins", async () => {
    const created = await createUser(t);
    const otherLogin = authResponseSchema.parse(
      (await post("/api/auth/login", { email: created.user.email, password: created.password })).json(),
    );
    const rotated = authResponseSchema.parse(
      (await post("/api/auth/refresh", { refreshToken: created.refreshToken })).json(),
    );

    const reuse = await post("/api/auth/refresh", { refreshToken: created.refreshToken });
    expect(reuse.statusCode).toBe(401);
    expect(errorCode(reuse)).toBe("auth.token_reused");

    const afterRevoke = await post("/api/auth/refresh", { refreshToken: rotated.refreshToken });
    expect(afterRevoke.statusCode).toBe(401);
    expect(errorCode(afterRevoke)).toBe("auth.invalid_token");
    expect((await post("/api/auth/refresh", { refreshToken: otherLogin.refreshToken })).statusCode).toBe(200);
  });

  it("lets exactly one of many concurrent refreshes with one token succeed", async () => {
    const created = await createUser(t);
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post("/api/auth/refresh", { refreshToken: created.refreshToken })),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 401)).toHaveLength(9);
    const tokens = await t.deps.db
      .selectFrom("refresh_tokens as r")
      .innerJoin("auth_sessions as s", "s.id", "r.session_id")
      .select("r.id")
      .where("s.user_id", "=", created.user.id)
      .execute();
    expect(tokens).toHaveLength(2);
  });

  it("answers 401 auth.invalid_token for an unknown token and auth.required for none", async () => {
    const unknown = await post("/api/auth/refresh", { refreshToken: "nope" });
    expect(unknown.statusCode).toBe(401);
    expect(errorCode(unknown)).toBe("auth.invalid_token");
    const none = await post("/api/auth/refresh", {});
    expect(none.statusCode).toBe(401);
    expect(errorCode(none)).toBe("auth.required");
  });

  it("uses the cookie when the body is {} and the Origin is the app's own", async () => {
    const created = await createUser(t);
    const cookies = { turnout_refresh: created.refreshToken };
    const noOrigin = await t.app.inject({ method: "POST", url: "/api/auth/refresh", payload: {}, cookies });
    expect(noOrigin.statusCode).toBe(403);
    expect(errorCode(noOrigin)).toBe("auth.forbidden");
    const foreign = await t.app.inject({
      method: "POST",
      url: "/api/auth/refresh",
      payload: {},
      cookies,
      headers: { origin: "https://evil.example" },
    });
    expect(foreign.statusCode).toBe(403);

    const own = await t.app.inject({
      method: "POST",
      url: "/api/auth/refresh",
      payload: {},
      cookies,
      headers: { host: "turnout.test:8080", origin: "http://turnout.test:8080" },
    });
    expect(own.statusCode).toBe(200);
    const pair = authResponseSchema.parse(own.json());
    expect(refreshCookie(own)).toMatchObject({
      value: pair.refreshToken,
      path: "/api/auth",
      httpOnly: true,
      sameSite: "Lax",
    });
  });

  it("checks the Origin against PUBLIC_URL when it is set", async () => {
    const other = await createTestApp({ env: { PUBLIC_URL: "https://events.example.org/" } });
    try {
      const created = await createUser(other);
      const cookies = { turnout_refresh: created.refreshToken };
      const hostOrigin = await other.app.inject({
        method: "POST",
        url: "/api/auth/refresh",
        payload: {},
        cookies,
        headers: { host: "internal:3000", origin: "http://internal:3000" },
      });
      expect(hostOrigin.statusCode).toBe(403);
      const publicOrigin = await other.app.inject({
        method: "POST",
        url: "/api/auth/refresh",
        payload: {},
        cookies,
        headers: { host: "internal:3000", origin: "https://events.example.org" },
      });
      expect(publicOrigin.statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe("logout", () => {
  it("answers 204, revokes the login and clears the cookie", async () => {
    const created = await createUser(t);
    const response = await post("/api/auth/logout", { refreshToken: created.refreshToken });
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe("");
    const cleared = refreshCookie(response);
    expect(cleared?.value).toBe("");
    expect(cleared?.path).toBe("/api/auth");
    expect(String(response.headers["set-cookie"])).toMatch(/Expires=Thu, 01 Jan 1970/);
    const refreshed = await post("/api/auth/refresh", { refreshToken: created.refreshToken });
    expect(refreshed.statusCode).toBe(401);
    expect(errorCode(refreshed)).toBe("auth.invalid_token");
  });

  it("logs out with the cookie from the app's own origin", async () => {
    const created = await createUser(t);
    const response = await t.app.inject({
      method: "POST",
      url: "/api/auth/logout",
      payload: {},
      cookies: { turnout_refresh: created.refreshToken },
      headers: { host: "turnout.test", origin: "http://turnout.test" },
    });
    expect(response.statusCode).toBe(204);
    expect((await post("/api/auth/refresh", { refreshToken: created.refreshToken })).statusCode).toBe(401);
  });
});
