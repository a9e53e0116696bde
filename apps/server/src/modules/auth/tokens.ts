import {
  createHash,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { USER_ROLES, type UserRole } from "@turnout/contracts";
import { SignJWT } from "jose";
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

/** The HS256 key, made once from the configured secret: raw bytes for jose, a KeyObject for verifying. */
export interface TokenKey {
  bytes: Uint8Array;
  hmac: KeyObject;
}

export function createTokenKey(secret: string): TokenKey {
  const bytes = new TextEncoder().encode(secret);
  return { bytes, hmac: createSecretKey(bytes) };
}

/** Signs a 15-minute access JWT (HS256) with claims sub, role and sid, issued at `now`. */
export async function signAccessToken(key: TokenKey, user: AuthUser, now: Date): Promise<string> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  return new SignJWT({ role: user.role, sid: user.sessionId })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(user.id)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ACCESS_TOKEN_TTL_SECONDS)
    .sign(key.bytes);
}

const HS256_SIGNATURE_BYTES = 32;
const headerSchema = z.object({ alg: z.literal("HS256"), typ: z.literal("JWT").optional() }).strict();
const timesSchema = z.object({ exp: z.number(), nbf: z.number().optional() });

/**
 * Verifies an access token: the header must say HS256 and nothing else (no `crit`, no other algorithm),
 * the signature must match in constant time, `exp` must lie after `now` and claims must have their shapes.
 * Never throws. Synchronous on purpose: every authenticated request runs it, and jose's WebCrypto path
 * cost a join storm a fifth of its CPU (ADR 0005); jose still signs, and tests check the two agree.
 */
export function verifyAccessToken(key: TokenKey, token: string, now: Date): VerifiedToken {
  const invalid: VerifiedToken = { ok: false, problem: "auth.invalid_token" };
  const [header, payload, signature, extra] = token.split(".");
  if (header === undefined || payload === undefined || signature === undefined || extra !== undefined) {
    return invalid;
  }
  const given = Buffer.from(signature, "base64url");
  // Buffer's decoder skips junk; only the canonical spelling of exactly 32 bytes is a signature.
  if (given.length !== HS256_SIGNATURE_BYTES || given.toString("base64url") !== signature) return invalid;
  const expected = createHmac("sha256", key.hmac).update(`${header}.${payload}`).digest();
  if (!timingSafeEqual(given, expected)) return invalid;
  if (!headerSchema.safeParse(parseSegment(header)).success) return invalid;
  const claims = parseSegment(payload);
  const times = timesSchema.safeParse(claims);
  if (!times.success) return invalid;
  const nowSeconds = now.getTime() / 1000;
  if (times.data.nbf !== undefined && times.data.nbf > nowSeconds) return invalid;
  if (times.data.exp <= nowSeconds) return { ok: false, problem: "auth.token_expired" };
  const user = claimsSchema.safeParse(claims);
  if (!user.success) return invalid;
  return { ok: true, user: { id: user.data.sub, role: user.data.role, sessionId: user.data.sid } };
}

function parseSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    return undefined;
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
