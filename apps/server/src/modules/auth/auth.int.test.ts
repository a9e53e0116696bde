import { authResponseSchema, errorBodySchema } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { countUsersWithRole, createUser } from "../../../test/factories.ts";
import { createPost, errorCode, nextIp, refreshCookie } from "../../../test/http.ts";

let t: TestApp;
const email = () => `u-${crypto.randomUUID()}@example.test`;

beforeAll(async () => {
  t = await createTestApp({
    env: { TRUST_PROXY: "true", RATE_LIMIT_LOGIN_FAILURES: "3", RATE_LIMIT_REGISTRATIONS: "4" },
  });
});
afterAll(() => t.close());

const post = createPost(() => t);

describe("register", () => {
  it("answers 201 with the user and a token pair, and sets the refresh cookie", async () => {
    const address = email();
    const response = await post("/api/auth/register", {
      email: address,
      password: "0123456789",
      name: "Ada",
    });
    expect(response.statusCode).toBe(201);
    const body = authResponseSchema.parse(response.json());
    expect(body.user).toMatchObject({ email: address, name: "Ada" });
    expect(body.accessToken.split(".")).toHaveLength(3);
    expect(Buffer.from(body.refreshToken, "base64url")).toHaveLength(32);
    const cookie = refreshCookie(response);
    expect(cookie).toMatchObject({
      value: body.refreshToken,
      path: "/api/auth",
      httpOnly: true,
      sameSite: "Lax",
      maxAge: 2_592_000,
    });
    expect(cookie?.secure).toBeUndefined();
    const raw = String(response.headers["set-cookie"]);
    expect(raw).toMatch(/HttpOnly/);
    expect(raw).not.toMatch(/Secure/);
  });

  it("marks the cookie Secure when the request came over HTTPS", async () => {
    const response = await post(
      "/api/auth/register",
      { email: email(), password: "0123456789", name: "Sec" },
      { headers: { "x-forwarded-proto": "https" } },
    );
    expect(response.statusCode).toBe(201);
    expect(refreshCookie(response)?.secure).toBe(true);
  });

  it("refuses a second account for the same email in any case with 409 auth.email_taken", async () => {
    const address = email();
    expect(
      (await post("/api/auth/register", { email: address, password: "0123456789", name: "A" })).statusCode,
    ).toBe(201);
    const again = await post("/api/auth/register", {
      email: address.toUpperCase(),
      password: "0123456789",
      name: "B",
    });
    expect(again.statusCode).toBe(409);
    expect(errorCode(again)).toBe("auth.email_taken");
  });

  it("gives one 201 and one 409 for two concurrent registrations of one email", async () => {
    const address = email();
    const responses = await Promise.all(
      [address, address.toUpperCase()].map((each) =>
        post("/api/auth/register", { email: each, password: "0123456789", name: "R" }),
      ),
    );
    expect(responses.map((response) => response.statusCode).sort()).toEqual([201, 409]);
    const rows = await t.deps.db.selectFrom("users").select("id").where("email", "=", address).execute();
    expect(rows).toHaveLength(1);
  });

  it("rejects a short password, a bad email and a missing name with 400 validation.failed per field", async () => {
    const response = await post("/api/auth/register", { email: "not-an-email", password: "short" });
    expect(response.statusCode).toBe(400);
    const body = errorBodySchema.parse(response.json());
    expect(body.error.code).toBe("validation.failed");
    const paths = (body.error.details as { path: string }[]).map((detail) => detail.path).sort();
    expect(paths).toEqual(["email", "name", "password"]);
  });

  it("limits registrations per address per hour with 429 rate_limited and Retry-After", async () => {
    const ip = nextIp();
    for (let i = 0; i < 4; i++) {
      expect(
        (await post("/api/auth/register", { email: email(), password: "0123456789", name: "L" }, { ip }))
          .statusCode,
      ).toBe(201);
    }
    const limited = await post(
      "/api/auth/register",
      { email: email(), password: "0123456789", name: "L" },
      { ip },
    );
    expect(limited.statusCode).toBe(429);
    expect(errorCode(limited)).toBe("rate_limited");
    const retryAfter = Number(limited.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(
      (await post("/api/auth/register", { email: email(), password: "0123456789", name: "L" })).statusCode,
    ).toBe(201);
  });
});

describe("login", () => {
  it("answers 200 with the same shape and sets the cookie", async () => {
    const created = await createUser(t, { email: email() });
    const response = await post("/api/auth/login", {
      email: created.user.email.toUpperCase(),
      password: created.password,
    });
    expect(response.statusCode).toBe(200);
    const body = authResponseSchema.parse(response.json());
    expect(body.user).toEqual(created.user);
    expect(refreshCookie(response)?.value).toBe(body.refreshToken);
  });

  it("answers the same 401 for a wrong password and an unknown email", async () => {
    const created = await createUser(t);
    const wrong = await post("/api/auth/login", { email: created.user.email, password: "wrong-password" });
    const missing = await post("/api/auth/login", { email: email(), password: "wrong-password" });
    expect(wrong.statusCode).toBe(401);
    expect(missing.statusCode).toBe(401);
    expect(wrong.json()).toEqual(missing.json());
    expect(errorCode(wrong)).toBe("auth.invalid_credentials");
  });

  it("limits failures per (account, address) pair: after N, even the right password gets 429 from that address only", async () => {
    const created = await createUser(t);
    const ip = nextIp();
    for (let i = 0; i < 3; i++) {
      const failed = await post("/api/auth/login", { email: created.user.email, password: "wrong" }, { ip });
      expect(failed.statusCode).toBe(401);
    }
    const limited = await post(
      "/api/auth/login",
      { email: created.user.email, password: created.password },
      { ip },
    );
    expect(limited.statusCode).toBe(429);
    expect(errorCode(limited)).toBe("rate_limited");
    const retryAfter = Number(limited.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // Someone else's typos from their own address never lock the owner out.
    const elsewhere = await post("/api/auth/login", {
      email: created.user.email,
      password: created.password,
    });
    expect(elsewhere.statusCode).toBe(200);
    const counters = await t.deps.db
      .selectFrom("rate_limit_counters")
      .select(["scope", "hits"])
      .where("key", "=", `${ip}\n${created.user.email}`)
      .execute();
    expect(counters).toEqual([{ scope: "login.pair", hits: 4 }]);
  });

  it("a success resets the pair counter", async () => {
    const created = await createUser(t);
    const ip = nextIp();
    const attempt = (password: string) =>
      post("/api/auth/login", { email: created.user.email, password }, { ip });
    for (let i = 0; i < 2; i++) expect((await attempt("wrong-password")).statusCode).toBe(401);
    expect((await attempt(created.password)).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await attempt("wrong-password")).statusCode).toBe(401);
    expect((await attempt(created.password)).statusCode).toBe(429);
  });

  it("lets at most N of many concurrent wrong guesses on one pair through to a 401", async () => {
    const created = await createUser(t);
    const ip = nextIp();
    const responses = await Promise.all(
      Array.from({ length: 12 }, () =>
        post("/api/auth/login", { email: created.user.email, password: "wrong-password" }, { ip }),
      ),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 401)).toHaveLength(3);
    expect(statuses.filter((status) => status === 429)).toHaveLength(9);
  });
});

describe("login limits at the default of 10 failures", () => {
  let limits: TestApp;
  beforeAll(async () => {
    limits = await createTestApp();
  });
  afterAll(() => limits.close());
  const login = (body: { email: string; password: string }, ip: string) =>
    limits.app.inject({ method: "POST", url: "/api/auth/login", payload: body, remoteAddress: ip });

  it("ten accounts failing once each from one address do not lock that address out", async () => {
    const ip = nextIp();
    const accounts = await Promise.all(Array.from({ length: 10 }, () => createUser(limits)));
    for (const account of accounts) {
      expect((await login({ email: account.user.email, password: "wrong" }, ip)).statusCode).toBe(401);
    }
    for (const account of accounts.slice(0, 3)) {
      const again = await login({ email: account.user.email, password: account.password }, ip);
      expect(again.statusCode).toBe(200);
    }
  });

  it("the eleventh failure on one account from one address is 429; the same account elsewhere is not", async () => {
    const ip = nextIp();
    const account = await createUser(limits);
    const wrong = { email: account.user.email, password: "wrong" };
    for (let i = 0; i < 10; i++) expect((await login(wrong, ip)).statusCode).toBe(401);
    const eleventh = await login(wrong, ip);
    expect(eleventh.statusCode).toBe(429);
    expect(errorCode(eleventh)).toBe("rate_limited");
    expect((await login(wrong, nextIp())).statusCode).toBe(401);
    expect(
      (await login({ email: account.user.email, password: account.password }, nextIp())).statusCode,
    ).toBe(200);
  });
});

describe("the per-address ceiling (ten times the pair limit)", () => {
  let ceiling: TestApp;
  beforeAll(async () => {
    ceiling = await createTestApp({ env: { RATE_LIMIT_LOGIN_FAILURES: "1" } });
  });
  afterAll(() => ceiling.close());
  const login = (body: { email: string; password: string }, ip: string) =>
    ceiling.app.inject({ method: "POST", url: "/api/auth/login", payload: body, remoteAddress: ip });

  it("stops an address after 10 x N failures over all accounts; a success does not reset it", async () => {
    const ip = nextIp();
    const account = await createUser(ceiling);
    const right = { email: account.user.email, password: account.password };
    for (let i = 0; i < 9; i++) {
      expect((await login({ email: email(), password: "wrong" }, ip)).statusCode).toBe(401);
    }
    expect((await login(right, ip)).statusCode).toBe(200);
    expect((await login({ email: email(), password: "wrong" }, ip)).statusCode).toBe(401);
    const stopped = await login(right, ip);
    expect(stopped.statusCode).toBe(429);
    expect(errorCode(stopped)).toBe("rate_limited");
    expect(Number(stopped.headers["retry-after"])).toBeGreaterThan(800);
    expect((await login(right, nextIp())).statusCode).toBe(200);
    const row = await ceiling.deps.db
      .selectFrom("rate_limit_counters")
      .select("hits")
      .where("scope", "=", "login.ip")
      .where("key", "=", ip)
      .executeTakeFirstOrThrow();
    expect(row.hits).toBe(11);
  });
});

describe("the first account", () => {
  it("is admin exactly once, even when many register at the same time; later ones are users", async () => {
    const fresh = await createTestApp();
    try {
      const responses = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          fresh.app.inject({
            method: "POST",
            url: "/api/auth/register",
            payload: { email: `first-${i}@example.test`, password: "0123456789", name: `F${i}` },
          }),
        ),
      );
      expect(responses.map((response) => response.statusCode)).toEqual(Array(8).fill(201));
      const roles = responses.map((response) => authResponseSchema.parse(response.json()).user.role);
      expect(roles.filter((role) => role === "admin")).toHaveLength(1);
      expect(roles.filter((role) => role === "user")).toHaveLength(7);
      expect(await countUsersWithRole(fresh, "admin")).toBe(1);
    } finally {
      await fresh.close();
    }
  });
});

describe("login timing", () => {
  it("takes about as long for an unknown email as for a wrong password", async () => {
    const timed = await createTestApp({ env: { RATE_LIMIT_LOGIN_FAILURES: "0" } });
    try {
      const created = await createUser(timed);
      const measure = async (address: string) => {
        const started = performance.now();
        const response = await timed.app.inject({
          method: "POST",
          url: "/api/auth/login",
          payload: { email: address, password: "wrong-password" },
        });
        expect(response.statusCode).toBe(401);
        return performance.now() - started;
      };
      await measure(email()); // warm-up: JIT and the dummy hash
      const existing: number[] = [];
      const missing: number[] = [];
      for (let i = 0; i < 10; i++) {
        existing.push(await measure(created.user.email));
        missing.push(await measure(email()));
      }
      const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
      console.log(
        `login timing: existing email ${mean(existing).toFixed(1)} ms, missing email ${mean(missing).toFixed(1)} ms`,
      );
      expect(mean(existing) / mean(missing)).toBeGreaterThan(0.5);
      expect(mean(existing) / mean(missing)).toBeLessThan(2);
    } finally {
      await timed.close();
    }
  });
});
