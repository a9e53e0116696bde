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

/** The `typ` header of access tokens (RFC 9068), so no other JWT signed with the same key passes for one. */
export const ACCESS_TOKEN_TYPE = "at+jwt";
/** The `aud` claim: these tokens are for Turnout's API and nothing else. */
export const ACCESS_TOKEN_AUDIENCE = "turnout";

/**
 * One HS256 signing key, made once from a secret: raw bytes for jose, a KeyObject for verifying, its key id
 * and the exact protected header it signs with.
 */
export interface TokenKey {
  kid: string;
  bytes: Uint8Array;
  hmac: KeyObject;
  /** The base64url header segment of every token this key signs. */
  header: string;
}

/** The key that signs new tokens and every key still accepted (the current one and, while rotating, the previous). */
export interface TokenKeys {
  current: TokenKey;
  byHeader: ReadonlyMap<string, TokenKey>;
}

// The key id names the key without revealing it: an HMAC of a fixed label under the key, 96 bits.
const KID_LABEL = "turnout access token key id";

export function createTokenKey(secret: string): TokenKey {
  const bytes = new TextEncoder().encode(secret);
  const hmac = createSecretKey(bytes);
  const kid = createHmac("sha256", hmac).update(KID_LABEL).digest().subarray(0, 12).toString("base64url");
  const header = Buffer.from(JSON.stringify(protectedHeader(kid))).toString("base64url");
  return { kid, bytes, hmac, header };
}

/** The keys for verifying: `secret` signs new tokens; tokens of `previousSecret` are accepted until they expire. */
export function createTokenKeys(secret: string, previousSecret?: string): TokenKeys {
  const current = createTokenKey(secret);
  const accepted = [current];
  if (previousSecret !== undefined && previousSecret !== secret)
    accepted.push(createTokenKey(previousSecret));
  return { current, byHeader: new Map(accepted.map((key) => [key.header, key])) };
}

// Key order matters: jose writes the header as given, and verification compares the segment byte for byte.
function protectedHeader(kid: string) {
  return { alg: "HS256", typ: ACCESS_TOKEN_TYPE, kid } as const;
}

/** Signs a 15-minute access JWT (HS256, typ at+jwt, kid) with claims sub, aud, role and sid, issued at `now`. */
export async function signAccessToken(key: TokenKey, user: AuthUser, now: Date): Promise<string> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  return new SignJWT({ role: user.role, sid: user.sessionId })
    .setProtectedHeader(protectedHeader(key.kid))
    .setSubject(user.id)
    .setAudience(ACCESS_TOKEN_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ACCESS_TOKEN_TTL_SECONDS)
    .sign(key.bytes);
}

const HS256_SIGNATURE_BYTES = 32;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const ROLES: ReadonlySet<unknown> = new Set(USER_ROLES);

/**
 * Verifies an access token (ADR 0008): three segments; the header segment byte for byte one this server
 * signs with (alg HS256, typ at+jwt, the kid of an accepted key, nothing else), which also picks the key; a
 * canonical 32-byte signature equal in constant time; then claims: exp after `now`, nbf (if any) not after
 * it, aud "turnout", sub and sid UUIDs, role a known role. Never throws. Synchronous and by hand on purpose:
 * every authenticated request runs it, and jose's path costs several times as much (ADR 0008); jose still
 * signs, and tests check the two agree. The role claim is what the user held at signing; the guard asks
 * current-users for the role they hold now.
 */
export function verifyAccessToken(keys: TokenKeys, token: string, now: Date): VerifiedToken {
  const invalid: VerifiedToken = { ok: false, problem: "auth.invalid_token" };
  const [header, payload, signature, extra] = token.split(".");
  if (header === undefined || payload === undefined || signature === undefined || extra !== undefined) {
    return invalid;
  }
  const key = keys.byHeader.get(header);
  if (key === undefined) return invalid;
  const given = Buffer.from(signature, "base64url");
  // Buffer's decoder skips junk; only the canonical spelling of exactly 32 bytes is a signature.
  if (given.length !== HS256_SIGNATURE_BYTES || given.toString("base64url") !== signature) return invalid;
  const expected = createHmac("sha256", key.hmac).update(`${header}.${payload}`).digest();
  if (!timingSafeEqual(given, expected)) return invalid;
  const claims = parseSegment(payload);
  if (!isRecord(claims) || typeof claims.exp !== "number") return invalid;
  const nowSeconds = now.getTime() / 1000;
  if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > nowSeconds)) return invalid;
  if (claims.aud !== ACCESS_TOKEN_AUDIENCE) return invalid;
  if (claims.exp <= nowSeconds) return { ok: false, problem: "auth.token_expired" };
  const { sub, role, sid } = claims;
  if (!isUuid(sub) || !isUuid(sid) || !ROLES.has(role)) return invalid;
  return { ok: true, user: { id: sub, role: role as UserRole, sessionId: sid } };
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
