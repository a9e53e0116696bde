import type { UserRole } from "@turnout/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../platform/errors.ts";
import { hasRole } from "./roles.ts";
import { createTokenKey, type AuthUser, type TokenProblem, verifyAccessToken } from "./tokens.ts";

export type { AuthUser };

declare module "fastify" {
  interface FastifyRequest {
    /** The caller named by a valid bearer token, or null (anonymous, or a token that failed). */
    user: AuthUser | null;
    /** Why the bearer token was refused, so requireUser can say which 401 it is. */
    authProblem: TokenProblem | null;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Reads `Authorization: Bearer` on every request (before rate limits and handlers) and sets
 * `request.user`. It never rejects by itself: routes decide with requireUser/requireRole.
 */
export function installAuth(app: FastifyInstance, deps: Pick<Deps, "secrets" | "clock">): void {
  const key = createTokenKey(deps.secrets.tokenSecret);
  app.decorateRequest("user", null);
  app.decorateRequest("authProblem", null);
  app.addHook("onRequest", (request, reply, done) => {
    const header = request.headers.authorization;
    // API.md: answers that depend on the caller are private (a route may still set its own policy); so are
    // the token pairs and session cookies of /api/auth, whoever asks.
    const hasCredentials = header !== undefined && header !== "";
    if (hasCredentials || request.url.startsWith("/api/auth/"))
      void reply.header("cache-control", "private, no-store");
    if (hasCredentials) {
      const token = BEARER.exec(header)?.[1];
      const verified = token === undefined ? undefined : verifyAccessToken(key, token, deps.clock.now());
      if (verified?.ok === true) request.user = verified.user;
      else request.authProblem = verified?.problem ?? "auth.invalid_token";
    }
    done();
  });
}

/** The signed-in caller; throws 401 auth.required, auth.invalid_token or auth.token_expired otherwise. */
export function requireUser(request: FastifyRequest): AuthUser {
  if (request.user !== null) return request.user;
  const code = request.authProblem ?? "auth.required";
  const messages: Record<typeof code, string> = {
    "auth.required": "Sign in to do this.",
    "auth.invalid_token": "The access token is not valid.",
    "auth.token_expired": "The access token has expired; refresh it.",
  };
  throw new AppError(code, messages[code]);
}

/** The signed-in caller holding at least `role`; throws as requireUser, or 403 auth.forbidden. */
export function requireRole(request: FastifyRequest, role: UserRole): AuthUser {
  const user = requireUser(request);
  if (!hasRole(user.role, role)) throw new AppError("auth.forbidden", `This needs the ${role} role.`);
  return user;
}

/** The key of the per-minute request limit: the verified user, else the client address. */
export function requestRateLimitKey(request: FastifyRequest): string {
  return request.user === null ? `ip:${request.ip}` : `user:${request.user.id}`;
}
