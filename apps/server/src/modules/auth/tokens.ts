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
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const ROLES: ReadonlySet<unknown> = new Set(USER_ROLES);

/**
 * Verifies an access token: the header must say HS256 and nothing else (no `crit`, no other algorithm),
 * the signature must match in constant time, `exp` must lie after `now` and claims must have their shapes.
 * Never throws. Synchronous and checked by hand on purpose: every authenticated request runs it (jose's
 * WebCrypto path cost a join storm a fifth of its CPU, zod's three parses another 2 µs of the 7; ADR 0005);
 * jose still signs, and tests check the two agree.
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
  if (!isHs256Header(parseSegment(header))) return invalid;
  const claims = parseSegment(payload);
  if (!isRecord(claims) || typeof claims.exp !== "number") return invalid;
  const nowSeconds = now.getTime() / 1000;
  if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > nowSeconds)) return invalid;
  if (claims.exp <= nowSeconds) return { ok: false, problem: "auth.token_expired" };
  const { sub, role, sid } = claims;
  if (!isUuid(sub) || !isUuid(sid) || !ROLES.has(role)) return invalid;
  return { ok: true, user: { id: sub, role: role as UserRole, sessionId: sid } };
}

// {"alg":"HS256"} with at most "typ":"JWT" beside it.
function isHs256Header(header: unknown): boolean {
  if (!isRecord(header) || header.alg !== "HS256") return false;
  const keys = Object.keys(header);
  return keys.length === 1 || (keys.length === 2 && header.typ === "JWT");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
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
