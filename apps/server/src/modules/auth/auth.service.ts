import {
  ACCEPT_LANGUAGE_MAX_LENGTH,
  AUTH_DOMAIN_EVENTS,
  type AuthResponse,
  type LoginBody,
  type RegisterBody,
  type User,
  type UserRegisteredData,
  type UserRole,
} from "@turnout/contracts";
import { v7 as uuidv7 } from "uuid";
import type { Deps } from "../../deps.ts";
import type { Trx } from "../../platform/db.ts";
import { AppError } from "../../platform/errors.ts";
import { appendOutbox } from "../../platform/outbox/outbox.ts";
import { countHit, rateLimitedError, resetCounter, uncountHit } from "../../platform/rate-limit.ts";
import * as repo from "./auth.repo.ts";
import { hashPassword, verifyPassword } from "./passwords.ts";
import {
  createTokenKey,
  generateRefreshToken,
  hashRefreshToken,
  REFRESH_TOKEN_TTL_MS,
  signAccessToken,
} from "./tokens.ts";

export type AuthDeps = Pick<Deps, "db" | "clock" | "config" | "secrets">;

const LOGIN_WINDOW_MS = 15 * 60 * 1000;
const REGISTRATION_WINDOW_MS = 60 * 60 * 1000;
const LOGIN_SCOPES = { pair: "login.pair", ip: "login.ip" } as const;
// API.md: one address failing on many accounts is stopped at ten times the per-pair limit.
const IP_CEILING_FACTOR = 10;

/** Who is signing up: their address (rate limit) and the languages their browser asks for. */
export interface SignUpClient {
  ip: string;
  acceptLanguage: string | undefined;
}

/**
 * Creates an account (the first one on an empty instance is admin) and signs it in. `user.registered.v1`
 * carries the browser's languages, so the first mail is already in the person's language (ADR 0022).
 */
export async function register(
  deps: AuthDeps,
  body: RegisterBody,
  client: SignUpClient,
): Promise<AuthResponse> {
  await enforceLimit(
    deps,
    "register.ip",
    client.ip,
    deps.config.rateLimits.registrations,
    REGISTRATION_WINDOW_MS,
  );
  const passwordHash = await hashPassword(body.password);
  const now = deps.clock.now();
  try {
    return await deps.db.transaction().execute(async (trx) => {
      const role = await pickRoleForNewAccount(trx);
      const user = await repo.insertUser(trx, {
        id: uuidv7(),
        email: normalizeEmail(body.email),
        name: body.name,
        passwordHash,
        role,
        now,
      });
      const data: UserRegisteredData = {
        userId: user.id,
        acceptLanguage: client.acceptLanguage?.slice(0, ACCEPT_LANGUAGE_MAX_LENGTH) ?? null,
      };
      await appendOutbox(trx, {
        aggregateType: "user",
        aggregateId: user.id,
        type: AUTH_DOMAIN_EVENTS.userRegistered,
        data,
      });
      return startSession(deps, trx, user);
    });
  } catch (error) {
    if (repo.isEmailTaken(error))
      throw new AppError("auth.email_taken", "An account with this email already exists.");
    throw error;
  }
}

/**
 * Signs in with email and password. Unknown email and wrong password give the same 401 after the same
 * work. Failures are limited per (account, address) pair, so one person's typos never lock anyone else out,
 * and per address over all accounts at ten times that, so one address cannot guess across many accounts.
 */
export async function login(deps: AuthDeps, body: LoginBody, clientIp: string): Promise<AuthResponse> {
  const email = normalizeEmail(body.email);
  const limit = deps.config.rateLimits.loginFailures;
  const pairKey = loginPairKey(email, clientIp);
  // Both counters take the attempt up front (so concurrent guesses cannot all slip under the limit); a
  // success gives it back below, so only failures count. The address goes first: an address over its
  // ceiling then stops before it can run up a pair counter.
  await enforceLimit(deps, LOGIN_SCOPES.ip, clientIp, limit * IP_CEILING_FACTOR, LOGIN_WINDOW_MS);
  await enforceLimit(deps, LOGIN_SCOPES.pair, pairKey, limit, LOGIN_WINDOW_MS);
  const account = await repo.findAccountByEmail(deps.db, email);
  const isValid = await verifyPassword(account?.passwordHash, body.password);
  if (account === undefined || !isValid) {
    throw new AppError("auth.invalid_credentials", "The email or password is not correct.");
  }
  if (limit > 0) {
    await resetCounter(deps.db, LOGIN_SCOPES.pair, pairKey);
    await uncountHit(deps.db, LOGIN_SCOPES.ip, clientIp);
  }
  return deps.db.transaction().execute((trx) => startSession(deps, trx, account.user));
}

// A newline cannot occur in a normalised email address nor in an IP address, so keys never collide.
function loginPairKey(email: string, clientIp: string): string {
  return `${clientIp}\n${email}`;
}

/**
 * Swaps a refresh token for a new pair. A token that was already swapped is reuse: its whole session is
 * revoked and the answer is 401 auth.token_reused. The token row is locked, so of two concurrent swaps of
 * one token exactly one succeeds.
 */
export async function refresh(deps: AuthDeps, refreshToken: string): Promise<AuthResponse> {
  const now = deps.clock.now();
  const outcome = await deps.db.transaction().execute(async (trx) => {
    const stored = await repo.findRefreshToken(trx, hashRefreshToken(refreshToken), { lock: true });
    if (stored === undefined) return "invalid" as const;
    if (stored.rotatedAt !== null) {
      await repo.revokeSession(trx, stored.sessionId, now);
      return "reused" as const;
    }
    if (stored.sessionRevokedAt !== null || stored.expiresAt <= now) return "invalid" as const;
    const user = await repo.findUserById(trx, stored.userId);
    if (user === undefined) return "invalid" as const;
    await repo.markRefreshTokenRotated(trx, stored.id, now);
    return issueTokens(deps, trx, user, stored.sessionId);
  });
  if (outcome === "reused") {
    throw new AppError(
      "auth.token_reused",
      "This refresh token was already used; the session has been ended.",
    );
  }
  if (outcome === "invalid") throw new AppError("auth.invalid_token", "The refresh token is not valid.");
  return outcome;
}

/** Ends the login a refresh token belongs to. Unknown tokens are ignored: logging out twice is fine. */
export async function logout(deps: AuthDeps, refreshToken: string): Promise<void> {
  const stored = await repo.findRefreshToken(deps.db, hashRefreshToken(refreshToken));
  if (stored !== undefined) await repo.revokeSession(deps.db, stored.sessionId, deps.clock.now());
}

/** Lower-cased and trimmed: accounts are unique by email regardless of case. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

async function pickRoleForNewAccount(trx: Trx): Promise<UserRole> {
  if (await repo.hasAnyUser(trx)) return "user";
  // Two first registrations at once: the lock makes the second wait and then see the first's account.
  await repo.lockFirstAdminElection(trx);
  return (await repo.hasAnyUser(trx)) ? "user" : "admin";
}

async function startSession(deps: AuthDeps, trx: Trx, user: User): Promise<AuthResponse> {
  const sessionId = uuidv7();
  await repo.insertSession(trx, { id: sessionId, userId: user.id, now: deps.clock.now() });
  return issueTokens(deps, trx, user, sessionId);
}

async function issueTokens(deps: AuthDeps, trx: Trx, user: User, sessionId: string): Promise<AuthResponse> {
  const now = deps.clock.now();
  const refreshToken = generateRefreshToken();
  await repo.insertRefreshToken(trx, {
    id: uuidv7(),
    sessionId,
    tokenHash: hashRefreshToken(refreshToken),
    now,
    expiresAt: new Date(now.getTime() + REFRESH_TOKEN_TTL_MS),
  });
  const accessToken = await signAccessToken(
    createTokenKey(deps.secrets.tokenSecret),
    { id: user.id, role: user.role, sessionId },
    now,
  );
  return { user, accessToken, refreshToken };
}

async function enforceLimit(
  deps: AuthDeps,
  scope: string,
  key: string,
  limit: number,
  windowMs: number,
): Promise<void> {
  if (limit === 0) return;
  const { hits, retryAfterMs } = await countHit(deps.db, { scope, key, windowMs, now: deps.clock.now() });
  if (hits > limit) throw rateLimitedError(retryAfterMs);
}
