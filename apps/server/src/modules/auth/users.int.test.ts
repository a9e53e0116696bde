import { errorBodySchema, userSchema } from "@turnout/contracts";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, countUsersWithRole, createUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { createManualClock } from "../../platform/clock.ts";

const clock = createManualClock(new Date("2026-03-01T12:00:00Z"));
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ deps: { clock } });
});
afterAll(() => t.close());

const getMe = (headers: Record<string, string> = {}) =>
  t.app.inject({ method: "GET", url: "/api/me", headers });
const patchMe = (headers: Record<string, string>, payload: object) =>
  t.app.inject({ method: "PATCH", url: "/api/me", headers, payload });
const setRole = (headers: Record<string, string>, id: string, role: string) =>
  t.app.inject({ method: "PATCH", url: `/api/admin/users/${id}`, headers, payload: { role } });

describe("GET /api/me", () => {
  it("answers the signed-in account", async () => {
    const created = await createUser(t, { name: "Grace" });
    const response = await getMe(bearer(created));
    expect(response.statusCode).toBe(200);
    const me = userSchema.parse(response.json());
    expect(me).toEqual(created.user);
    expect(Object.keys(response.json<object>()).sort()).toEqual(["createdAt", "email", "id", "name", "role"]);
  });

  it("answers 401 auth.required without a token", async () => {
    const response = await getMe();
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe("auth.required");
  });

  it("answers 401 auth.invalid_token for a malformed, a non-bearer or a forged token", async () => {
    const created = await createUser(t);
    const forged = await new SignJWT({ role: "admin", sid: created.user.id })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(created.user.id)
      .setIssuedAt(Math.floor(clock.now().getTime() / 1000))
      .setExpirationTime(Math.floor(clock.now().getTime() / 1000) + 600)
      .sign(new TextEncoder().encode("some-other-secret-some-other-secret-000"));
    const [header, payload] = created.accessToken.split(".");
    const unsigned = `${header ?? ""}.${payload ?? ""}.`;
    for (const authorization of ["Bearer garbage", "Basic abc", `Bearer ${forged}`, `Bearer ${unsigned}`]) {
      const response = await getMe({ authorization });
      expect(response.statusCode, authorization).toBe(401);
      expect(errorCode(response)).toBe("auth.invalid_token");
    }
  });

  it("answers 401 auth.token_expired once 15 minutes have passed, and works again after a refresh", async () => {
    const created = await createUser(t);
    clock.advance(14 * 60 * 1000);
    expect((await getMe(bearer(created))).statusCode).toBe(200);
    clock.advance(61 * 1000);
    const expired = await getMe(bearer(created));
    expect(expired.statusCode).toBe(401);
    expect(errorCode(expired)).toBe("auth.token_expired");

    const refreshed = await t.app.inject({
      method: "POST",
      url: "/api/auth/refresh",
      payload: { refreshToken: created.refreshToken },
    });
    expect(refreshed.statusCode).toBe(200);
    const { accessToken } = refreshed.json<{ accessToken: string }>();
    expect((await getMe(bearer({ accessToken }))).statusCode).toBe(200);
  });

  it("refuses a refresh token after its 30 days", async () => {
    const created = await createUser(t);
    clock.advance(30 * 24 * 60 * 60 * 1000 + 1000);
    const response = await t.app.inject({
      method: "POST",
      url: "/api/auth/refresh",
      payload: { refreshToken: created.refreshToken },
    });
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe("auth.invalid_token");
  });
});

describe("PATCH /api/me", () => {
  it("changes the name and answers the updated account", async () => {
    const created = await createUser(t, { name: "Old" });
    const response = await patchMe(bearer(created), { name: "  New  " });
    expect(response.statusCode).toBe(200);
    expect(userSchema.parse(response.json())).toEqual({ ...created.user, name: "New" });
    expect(userSchema.parse((await getMe(bearer(created))).json()).name).toBe("New");
  });

  it("answers the account unchanged for {}", async () => {
    const created = await createUser(t);
    const response = await patchMe(bearer(created), {});
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(created.user);
  });

  it("rejects an empty name with 400 validation.failed and needs a token", async () => {
    const created = await createUser(t);
    const invalid = await patchMe(bearer(created), { name: " " });
    expect(invalid.statusCode).toBe(400);
    expect(errorBodySchema.parse(invalid.json()).error).toMatchObject({
      code: "validation.failed",
      details: [{ path: "name" }],
    });
    const anonymous = await patchMe({}, { name: "X" });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe("PATCH /api/admin/users/:id", () => {
  it("lets an admin set a role", async () => {
    const admin = await createUser(t, { role: "admin" });
    const target = await createUser(t);
    const response = await setRole(bearer(admin), target.user.id, "moderator");
    expect(response.statusCode).toBe(200);
    expect(userSchema.parse(response.json())).toEqual({ ...target.user, role: "moderator" });
    const row = await t.deps.db
      .selectFrom("users")
      .select("role")
      .where("id", "=", target.user.id)
      .executeTakeFirstOrThrow();
    expect(row.role).toBe("moderator");
  });

  it("answers 403 auth.forbidden to users and moderators, 401 to anonymous callers", async () => {
    const target = await createUser(t);
    for (const role of ["user", "moderator"] as const) {
      const caller = await createUser(t, { role });
      const response = await setRole(bearer(caller), target.user.id, "admin");
      expect(response.statusCode).toBe(403);
      expect(errorCode(response)).toBe("auth.forbidden");
    }
    expect((await setRole({}, target.user.id, "admin")).statusCode).toBe(401);
  });

  it("answers 403 to a token that still says admin after the account was demoted", async () => {
    const admin = await createUser(t, { role: "admin" });
    await createUser(t, { role: "admin" });
    const target = await createUser(t);
    await t.deps.db.updateTable("users").set({ role: "user" }).where("id", "=", admin.user.id).execute();
    const response = await setRole(bearer(admin), target.user.id, "admin");
    expect(response.statusCode).toBe(403);
  });

  it("answers 404 user.not_found for an unknown id and 400 for a bad id or role", async () => {
    const admin = await createUser(t, { role: "admin" });
    const missing = await setRole(bearer(admin), "0190a8e0-0000-7000-8000-000000000000", "user");
    expect(missing.statusCode).toBe(404);
    expect(errorCode(missing)).toBe("user.not_found");
    expect((await setRole(bearer(admin), "not-a-uuid", "user")).statusCode).toBe(400);
    expect((await setRole(bearer(admin), admin.user.id, "owner")).statusCode).toBe(400);
  });

  it("refuses to demote the last admin with 409 user.last_admin, even when two admins demote themselves at once", async () => {
    const fresh = await createTestApp();
    try {
      const first = await createUser(fresh, { role: "admin" });
      const alone = await fresh.app.inject({
        method: "PATCH",
        url: `/api/admin/users/${first.user.id}`,
        headers: bearer(first),
        payload: { role: "user" },
      });
      expect(alone.statusCode).toBe(409);
      expect(errorCode(alone)).toBe("user.last_admin");

      const second = await createUser(fresh, { role: "admin" });
      const responses = await Promise.all(
        [first, second].map((admin) =>
          fresh.app.inject({
            method: "PATCH",
            url: `/api/admin/users/${admin.user.id}`,
            headers: bearer(admin),
            payload: { role: "moderator" },
          }),
        ),
      );
      expect(responses.map((response) => response.statusCode).sort()).toEqual([200, 409]);
      expect(await countUsersWithRole(fresh, "admin")).toBe(1);
    } finally {
      await fresh.close();
    }
  });
});

describe("OpenAPI", () => {
  it("documents every account route with its security and the Idempotency-Key header", async () => {
    const response = await t.app.inject({ method: "GET", url: "/api/openapi.json" });
    expect(response.statusCode).toBe(200);
    const doc = response.json<{
      paths: Record<
        string,
        Record<
          string,
          {
            tags?: string[];
            security?: unknown;
            parameters?: { name: string; in: string }[];
            responses: Record<string, unknown>;
          }
        >
      >;
    }>();
    for (const [path, method] of [
      ["/api/auth/register", "post"],
      ["/api/auth/login", "post"],
      ["/api/auth/refresh", "post"],
      ["/api/auth/logout", "post"],
      ["/api/me", "get"],
      ["/api/me", "patch"],
      ["/api/admin/users/{id}", "patch"],
    ] as const) {
      const operation = doc.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation?.tags?.length).toBeGreaterThan(0);
    }
    expect(doc.paths["/api/me"]?.get?.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/api/auth/login"]?.post?.security).toBeUndefined();
    expect(doc.paths["/api/auth/register"]?.post?.responses).toHaveProperty("201");
    expect(doc.paths["/api/me"]?.patch?.parameters).toContainEqual(
      expect.objectContaining({ name: "idempotency-key", in: "header" }),
    );
  });
});
