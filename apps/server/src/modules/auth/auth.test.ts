import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { isOwnOrigin, ownOrigin, refreshCookieOptions } from "./cookies.ts";
import { hashPassword, verifyPassword } from "./passwords.ts";
import { hasRole } from "./roles.ts";
import {
  createTokenKey,
  generateRefreshToken,
  hashRefreshToken,
  signAccessToken,
  verifyAccessToken,
} from "./tokens.ts";

const key = createTokenKey("unit-test-secret-unit-test-secret-0000");
const user = {
  id: "0190a8e0-0000-7000-8000-000000000001",
  role: "moderator" as const,
  sessionId: "0190a8e0-0000-7000-8000-000000000002",
};

describe("roles", () => {
  it("orders user < moderator < admin", () => {
    expect(hasRole("user", "user")).toBe(true);
    expect(hasRole("user", "moderator")).toBe(false);
    expect(hasRole("moderator", "moderator")).toBe(true);
    expect(hasRole("moderator", "admin")).toBe(false);
    expect(hasRole("admin", "moderator")).toBe(true);
    expect(hasRole("admin", "user")).toBe(true);
  });
});

describe("refresh cookie", () => {
  it("is HttpOnly, SameSite=Lax, scoped to /api/auth, 30 days, Secure only over HTTPS", () => {
    expect(refreshCookieOptions(false)).toEqual({
      httpOnly: true,
      sameSite: "lax",
      path: "/api/auth",
      secure: false,
      maxAge: 2_592_000,
    });
    expect(refreshCookieOptions(true).secure).toBe(true);
  });

  it("takes the app's origin from PUBLIC_URL, else from the request", () => {
    expect(ownOrigin("https://events.example.org/app/", "http", "internal:3000")).toBe(
      "https://events.example.org",
    );
    expect(ownOrigin(undefined, "http", "Localhost:3000")).toBe("http://localhost:3000");
  });

  it("accepts only an Origin equal to the app's", () => {
    expect(isOwnOrigin("http://localhost:3000", "http://localhost:3000")).toBe(true);
    expect(isOwnOrigin("http://localhost:3001", "http://localhost:3000")).toBe(false);
    expect(isOwnOrigin("https://localhost:3000", "http://localhost:3000")).toBe(false);
    expect(isOwnOrigin("null", "http://localhost:3000")).toBe(false);
    expect(isOwnOrigin(undefined, "http://localhost:3000")).toBe(false);
  });
});

describe("access tokens", () => {
  const issuedAt = new Date("2026-01-01T00:00:00Z");

  it("carry sub, role and sid and verify within 15 minutes", async () => {
    const token = await signAccessToken(key, user, issuedAt);
    const claims: unknown = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString());
    expect(claims).toMatchObject({ sub: user.id, role: "moderator", sid: user.sessionId, exp: 1767226500 });
    expect(verifyAccessToken(key, token, new Date("2026-01-01T00:14:59Z"))).toEqual({ ok: true, user });
  });

  it("are expired after 15 minutes and invalid under another key or when altered", async () => {
    const token = await signAccessToken(key, user, issuedAt);
    expect(verifyAccessToken(key, token, new Date("2026-01-01T00:15:01Z"))).toEqual({
      ok: false,
      problem: "auth.token_expired",
    });
    const otherKey = createTokenKey("another-secret-another-secret-another-0");
    expect(verifyAccessToken(otherKey, token, issuedAt)).toEqual({
      ok: false,
      problem: "auth.invalid_token",
    });
    const [header, , signature] = token.split(".");
    const forgedPayload = Buffer.from(
      JSON.stringify({ sub: user.id, role: "admin", sid: user.sessionId, exp: 1767226500 }),
    ).toString("base64url");
    expect(verifyAccessToken(key, `${header ?? ""}.${forgedPayload}.${signature ?? ""}`, issuedAt)).toEqual({
      ok: false,
      problem: "auth.invalid_token",
    });
  });
});

describe("access token verification", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const claims = { role: user.role, sid: user.sessionId };
  const sign = (header: Record<string, unknown>, signingKey: Uint8Array = key.bytes) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", ...header })
      .setSubject(user.id)
      .setExpirationTime(Math.floor(now.getTime() / 1000) + 60)
      .sign(signingKey);
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

  it("accepts what jose signs with the same key, with or without typ", async () => {
    expect(verifyAccessToken(key, await sign({ typ: "JWT" }), now)).toEqual({ ok: true, user });
    expect(verifyAccessToken(key, await sign({}), now)).toEqual({ ok: true, user });
  });

  it("refuses other algorithms, crit headers, alg none, junk signatures and extra segments", async () => {
    const invalid = { ok: false, problem: "auth.invalid_token" };
    const hs512 = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS512" })
      .setSubject(user.id)
      .setExpirationTime("1h")
      .sign(key.bytes);
    expect(verifyAccessToken(key, hs512, now)).toEqual(invalid);
    const critical = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", crit: ["b64"], b64: true })
      .setSubject(user.id)
      .setExpirationTime("1h")
      .sign(key.bytes);
    expect(verifyAccessToken(key, critical, now)).toEqual(invalid);
    const good = await sign({ typ: "JWT" });
    const [, payload, signature] = good.split(".");
    expect(verifyAccessToken(key, `${segment({ alg: "none" })}.${payload ?? ""}.`, now)).toEqual(invalid);
    expect(verifyAccessToken(key, `${good}A`, now)).toEqual(invalid);
    expect(verifyAccessToken(key, `${good}.x`, now)).toEqual(invalid);
    expect(
      verifyAccessToken(key, `${segment({ alg: "HS256" })}.${payload ?? ""}.${signature ?? ""}`, now),
    ).toEqual(invalid);
    expect(verifyAccessToken(key, "not a token", now)).toEqual(invalid);
  });

  it("needs exp, and refuses a token whose nbf lies ahead", async () => {
    const noExp = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user.id)
      .sign(key.bytes);
    expect(verifyAccessToken(key, noExp, now)).toEqual({ ok: false, problem: "auth.invalid_token" });
    const later = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user.id)
      .setNotBefore(Math.floor(now.getTime() / 1000) + 30)
      .setExpirationTime(Math.floor(now.getTime() / 1000) + 60)
      .sign(key.bytes);
    expect(verifyAccessToken(key, later, now)).toEqual({ ok: false, problem: "auth.invalid_token" });
  });
});

describe("refresh tokens", () => {
  it("are 32 random bytes, stored as their SHA-256", () => {
    const token = generateRefreshToken();
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(generateRefreshToken()).not.toBe(token);
    expect(hashRefreshToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRefreshToken(token)).toBe(hashRefreshToken(token));
  });
});

describe("passwords", () => {
  it("hash with argon2id and verify; a missing hash never verifies", async () => {
    const hashed = await hashPassword("correct horse battery");
    expect(hashed).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(hashed, "correct horse battery")).toBe(true);
    expect(await verifyPassword(hashed, "wrong")).toBe(false);
    expect(await verifyPassword(undefined, "correct horse battery")).toBe(false);
    expect(await verifyPassword("not-a-hash", "x")).toBe(false);
  });
});
