import { authResponseSchema } from "@turnout/contracts";
import type { FastifyInstance } from "fastify";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_SECRETS, type TestApp } from "../../../test/app.ts";
import { createUser, type CreatedUser } from "../../../test/factories.ts";
import { buildApp } from "../../app.ts";
import { createTokenKey, signAccessToken } from "./tokens.ts";

// Issue 9: access tokens name their key (kid), their type (typ at+jwt) and audience (aud), and the signing
// key rotates without signing anyone out: TOKEN_SECRET_PREVIOUS is still accepted until its tokens expire.

const OLD_SECRET = TEST_SECRETS.TOKEN_SECRET;
const NEW_SECRET = "rotated-token-secret-rotated-token-secret-1111";
const OTHER_SECRET = "someone-elses-secret-someone-elses-secret-2";

let before: TestApp;
// The same database after the rotation: new key, old one still accepted.
let rotating: FastifyInstance;
// Later still: the previous key dropped.
let rotated: FastifyInstance;
let person: CreatedUser;

beforeAll(async () => {
  before = await createTestApp();
  const secrets = { ...before.deps.secrets, tokenSecret: NEW_SECRET };
  rotating = await buildApp({ ...before.deps, secrets: { ...secrets, previousTokenSecret: OLD_SECRET } });
  rotated = await buildApp({ ...before.deps, secrets });
  await Promise.all([rotating.ready(), rotated.ready()]);
  person = await createUser(before);
});
afterAll(async () => {
  await Promise.all([rotating.close(), rotated.close()]);
  await before.close();
});

const me = (app: FastifyInstance, token: string) =>
  app.inject({ method: "GET", url: "/api/me", headers: { authorization: `Bearer ${token}` } });

function headerOf(token: string): unknown {
  return JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8"));
}

const invalidToken = {
  error: { code: "auth.invalid_token", message: "The access token is not valid." },
};

describe("key rotation", () => {
  it("keeps tokens of the previous key valid, and signs new ones with the new key's kid", async () => {
    expect(headerOf(person.accessToken)).toEqual({
      alg: "HS256",
      typ: "at+jwt",
      kid: createTokenKey(OLD_SECRET).kid,
    });
    expect((await me(rotating, person.accessToken)).statusCode).toBe(200);

    const refreshed = await rotating.inject({
      method: "POST",
      url: "/api/auth/refresh",
      payload: { refreshToken: person.refreshToken },
    });
    expect(refreshed.statusCode).toBe(200);
    const pair = authResponseSchema.parse(refreshed.json());
    expect(headerOf(pair.accessToken)).toEqual({
      alg: "HS256",
      typ: "at+jwt",
      kid: createTokenKey(NEW_SECRET).kid,
    });
    expect(createTokenKey(NEW_SECRET).kid).not.toBe(createTokenKey(OLD_SECRET).kid);
    expect((await me(rotating, pair.accessToken)).statusCode).toBe(200);
    expect((await me(rotated, pair.accessToken)).statusCode).toBe(200);
  });

  it("refuses the previous key's tokens once it is no longer configured, and unknown keys always", async () => {
    const old = await signAccessToken(
      createTokenKey(OLD_SECRET),
      { id: person.user.id, role: "user", sessionId: crypto.randomUUID() },
      new Date(),
    );
    const stranger = await signAccessToken(
      createTokenKey(OTHER_SECRET),
      { id: person.user.id, role: "user", sessionId: crypto.randomUUID() },
      new Date(),
    );
    expect((await me(rotating, old)).statusCode).toBe(200);
    const refused = await me(rotated, old);
    expect([refused.statusCode, refused.json()]).toEqual([401, invalidToken]);
    for (const app of [before.app, rotating, rotated]) {
      const unknown = await me(app, stranger);
      expect([unknown.statusCode, unknown.json()]).toEqual([401, invalidToken]);
    }
  });
});

describe("typ, aud and kid", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const key = createTokenKey(OLD_SECRET);
  const sign = (header: Record<string, string>, audience: string | null) => {
    const jwt = new SignJWT({ role: "user", sid: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256", ...header })
      .setSubject(person.user.id)
      .setIssuedAt(now())
      .setExpirationTime(now() + 60);
    return (audience === null ? jwt : jwt.setAudience(audience)).sign(key.bytes);
  };

  it("accepts the right ones, and refuses a token without them with 401 auth.invalid_token", async () => {
    const good = await sign({ typ: "at+jwt", kid: key.kid }, "turnout");
    expect((await me(before.app, good)).statusCode).toBe(200);
    const wrong = [
      await sign({ typ: "JWT", kid: key.kid }, "turnout"),
      await sign({ kid: key.kid }, "turnout"),
      await sign({ typ: "at+jwt" }, "turnout"),
      await sign({ typ: "at+jwt", kid: "not-a-known-kid" }, "turnout"),
      await sign({ typ: "at+jwt", kid: key.kid }, "another-service"),
      await sign({ typ: "at+jwt", kid: key.kid }, null),
    ];
    for (const token of wrong) {
      const response = await me(before.app, token);
      expect([response.statusCode, response.json()]).toEqual([401, invalidToken]);
    }
  });
});
