import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { isOwnOrigin, ownOrigin, refreshCookieOptions } from "./cookies.ts";
import { hashPassword, verifyPassword } from "./passwords.ts";
import { hasRole } from "./user-roles.ts";
import {
  createTokenKey,
  createTokenKeys,
  generateRefreshToken,
  hashRefreshToken,
  signAccessToken,
  verifyAccessToken,
} from "./tokens.ts";

const key = createTokenKey("unit-test-secret-unit-test-secret-0000");
const keys = createTokenKeys("unit-test-secret-unit-test-secret-0000");
const invalid = { ok: false, problem: "auth.invalid_token" };
const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const decode = (part: string | undefined): unknown =>
  JSON.parse(Buffer.from(part ?? "", "base64url").toString("utf8"));
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

  it("carry typ at+jwt and the key's kid, sub, aud, role and sid, and verify within 15 minutes", async () => {
    const token = await signAccessToken(key, user, issuedAt);
    const [header, payload] = token
      .split(".")
      .slice(0, 2)
      .map((part) => decode(part));
    expect(header).toEqual({ alg: "HS256", typ: "at+jwt", kid: key.kid });
    expect(payload).toMatchObject({
      sub: user.id,
      aud: "turnout",
      role: "moderator",
      sid: user.sessionId,
      exp: 1767226500,
    });
    expect(verifyAccessToken(keys, token, new Date("2026-01-01T00:14:59Z"))).toEqual({ ok: true, user });
  });

  it("are expired after 15 minutes and invalid under another key or when altered", async () => {
    const token = await signAccessToken(key, user, issuedAt);
    expect(verifyAccessToken(keys, token, new Date("2026-01-01T00:15:01Z"))).toEqual({
      ok: false,
      problem: "auth.token_expired",
    });
    const otherKeys = createTokenKeys("another-secret-another-secret-another-0");
    expect(verifyAccessToken(otherKeys, token, issuedAt)).toEqual(invalid);
    const [header, , signature] = token.split(".");
    const forgedPayload = segment({
      sub: user.id,
      aud: "turnout",
      role: "admin",
      sid: user.sessionId,
      exp: 1767226500,
    });
    expect(verifyAccessToken(keys, `${header ?? ""}.${forgedPayload}.${signature ?? ""}`, issuedAt)).toEqual(
      invalid,
    );
  });

  it("name their key by a kid that does not reveal it, stable per secret", () => {
    const again = createTokenKey("unit-test-secret-unit-test-secret-0000");
    expect(again.kid).toBe(key.kid);
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(createTokenKey("another-secret-another-secret-another-0").kid).not.toBe(key.kid);
    expect(key.kid).not.toContain("unit");
  });
});

describe("key rotation", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const previous = createTokenKey("previous-secret-previous-secret-previous");

  it("accepts tokens of the current and the previous key, and signs only with the current one", async () => {
    const rotatedKeys = createTokenKeys(
      "unit-test-secret-unit-test-secret-0000",
      "previous-secret-previous-secret-previous",
    );
    expect(rotatedKeys.current.kid).toBe(key.kid);
    const old = await signAccessToken(previous, user, now);
    expect(verifyAccessToken(rotatedKeys, old, now)).toEqual({ ok: true, user });
    expect(verifyAccessToken(keys, old, now)).toEqual(invalid);
    expect(verifyAccessToken(rotatedKeys, await signAccessToken(key, user, now), now)).toEqual({
      ok: true,
      user,
    });
    expect(rotatedKeys.byHeader.size).toBe(2);
  });

  it("refuses a token with a known kid but signed by another key", async () => {
    const other = createTokenKey("another-secret-another-secret-another-0");
    const token = await signAccessToken(other, user, now);
    const [, payload, signature] = token.split(".");
    expect(verifyAccessToken(keys, `${key.header}.${payload ?? ""}.${signature ?? ""}`, now)).toEqual(
      invalid,
    );
  });
});

describe("access token verification", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const claims = { role: user.role, sid: user.sessionId };
  const sign = (
    header: Record<string, unknown>,
    options: { audience?: string | string[] | null } = {},
    signingKey: Uint8Array = key.bytes,
  ) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", ...header })
      .setSubject(user.id)
      .setExpirationTime(Math.floor(now.getTime() / 1000) + 60);
    const audience = options.audience === undefined ? "turnout" : options.audience;
    return (audience === null ? jwt : jwt.setAudience(audience)).sign(signingKey);
  };

  it("accepts what jose signs with the same key, typ and kid", async () => {
    expect(verifyAccessToken(keys, await sign({ typ: "at+jwt", kid: key.kid }), now)).toEqual({
      ok: true,
      user,
    });
  });

  it("refuses a wrong or missing typ, a wrong or missing kid, and extra header fields", async () => {
    for (const header of [
      { typ: "JWT", kid: key.kid },
      { kid: key.kid },
      { typ: "at+jwt" },
      { typ: "at+jwt", kid: "unknown-kid-0000" },
      { typ: "at+jwt", kid: key.kid, jku: "https://attacker.example/keys" },
      { kid: key.kid, typ: "at+jwt" },
    ]) {
      expect(verifyAccessToken(keys, await sign(header), now)).toEqual(invalid);
    }
  });

  it("refuses a wrong, missing or list audience", async () => {
    const header = { typ: "at+jwt", kid: key.kid };
    expect(verifyAccessToken(keys, await sign(header, { audience: "another-app" }), now)).toEqual(invalid);
    expect(verifyAccessToken(keys, await sign(header, { audience: null }), now)).toEqual(invalid);
    expect(verifyAccessToken(keys, await sign(header, { audience: ["turnout", "x"] }), now)).toEqual(invalid);
  });

  it("refuses other algorithms, crit headers, alg none, junk signatures and extra segments", async () => {
    const hs512 = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS512", typ: "at+jwt", kid: key.kid })
      .setSubject(user.id)
      .setAudience("turnout")
      .setExpirationTime("1h")
      .sign(key.bytes);
    expect(verifyAccessToken(keys, hs512, now)).toEqual(invalid);
    const critical = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: key.kid, crit: ["b64"], b64: true })
      .setSubject(user.id)
      .setAudience("turnout")
      .setExpirationTime("1h")
      .sign(key.bytes);
    expect(verifyAccessToken(keys, critical, now)).toEqual(invalid);
    const good = await sign({ typ: "at+jwt", kid: key.kid });
    const [, payload, signature] = good.split(".");
    expect(verifyAccessToken(keys, `${segment({ alg: "none" })}.${payload ?? ""}.`, now)).toEqual(invalid);
    expect(verifyAccessToken(keys, `${good}A`, now)).toEqual(invalid);
    expect(verifyAccessToken(keys, `${good}.x`, now)).toEqual(invalid);
    expect(
      verifyAccessToken(keys, `${segment({ alg: "HS256" })}.${payload ?? ""}.${signature ?? ""}`, now),
    ).toEqual(invalid);
    expect(verifyAccessToken(keys, "not a token", now)).toEqual(invalid);
  });

  it("needs exp, and refuses a token whose nbf lies ahead", async () => {
    const noExp = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: key.kid })
      .setSubject(user.id)
      .setAudience("turnout")
      .sign(key.bytes);
    expect(verifyAccessToken(keys, noExp, now)).toEqual(invalid);
    const later = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: key.kid })
      .setSubject(user.id)
      .setAudience("turnout")
      .setNotBefore(Math.floor(now.getTime() / 1000) + 30)
      .setExpirationTime(Math.floor(now.getTime() / 1000) + 60)
      .sign(key.bytes);
    expect(verifyAccessToken(keys, later, now)).toEqual(invalid);
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
