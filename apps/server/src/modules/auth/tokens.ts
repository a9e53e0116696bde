import { createHash, randomBytes } from "node:crypto";
import { USER_ROLES, type UserRole } from "@turnout/contracts";
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** Who a verified access token speaks for. `sessionId` names the login (auth_sessions row) it came from. */
export interface AuthUser {
  id: string;
  role: UserRole;
  sessionId: string;
}

export type TokenProblem = "auth.invalid_token" | "auth.token_expired";
export type VerifiedToken = { ok: true; user: AuthUser } | { ok: false; problem: TokenProblem };

const claimsSchema = z.object({ sub: z.uuid(), role: z.enum(USER_ROLES), sid: z.uuid() });

/** Turns the configured secret into the HS256 key once, so requests do not re-encode it. */
export function createTokenKey(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/** Signs a 15-minute access JWT (HS256) with claims sub, role and sid, issued at `now`. */
export async function signAccessToken(key: Uint8Array, user: AuthUser, now: Date): Promise<string> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  return new SignJWT({ role: user.role, sid: user.sessionId })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(user.id)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ACCESS_TOKEN_TTL_SECONDS)
    .sign(key);
}

/** Verifies signature, algorithm, expiry (against `now`) and claim shapes; never throws. */
export async function verifyAccessToken(key: Uint8Array, token: string, now: Date): Promise<VerifiedToken> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ["HS256"], currentDate: now });
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) return { ok: false, problem: "auth.invalid_token" };
    return { ok: true, user: { id: claims.data.sub, role: claims.data.role, sessionId: claims.data.sid } };
  } catch (error) {
    return {
      ok: false,
      problem: error instanceof errors.JWTExpired ? "auth.token_expired" : "auth.invalid_token",
    };
  }
}

/** A fresh opaque refresh token: 32 random bytes, base64url. Only its hash is stored. */
export function generateRefreshToken(): string {
  return randomBytes(32).toString("base64url");
}

/** SHA-256 (hex) of a refresh token: what refresh_tokens.token_hash holds. */
export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
