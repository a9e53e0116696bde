import type { UserRole } from "@turnout/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../platform/errors.ts";
import { createCurrentUsers, type CurrentUsers, type Standing } from "./current-users.ts";
import { hasRole } from "./user-roles.ts";
import { createTokenKeys, type AuthUser, type TokenProblem, verifyAccessToken } from "./tokens.ts";

export type { AuthUser };

declare module "fastify" {
  interface FastifyInstance {
    /** Each user's current role and existence, shared by the guard and the role-changing route. */
    currentUsers: CurrentUsers;
  }
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
 * `request.user` with the role the user holds now (a token's own role claim may be up to 15 minutes old);
 * a token of an account that no longer exists is refused like a forged one. It never rejects by itself:
 * routes decide with requireUser/requireRole, which stay synchronous.
 */
export function installAuth(
  app: FastifyInstance,
  deps: Pick<Deps, "secrets" | "clock" | "db" | "databaseUrl" | "log">,
): void {
  const keys = createTokenKeys(deps.secrets.tokenSecret, deps.secrets.previousTokenSecret);
  const currentUsers = createCurrentUsers({ db: deps.db, databaseUrl: deps.databaseUrl, log: deps.log });
  app.decorate("currentUsers", currentUsers);
  app.addHook("onClose", () => currentUsers.close());
  app.decorateRequest("user", null);
  app.decorateRequest("authProblem", null);
  app.addHook("onRequest", (request, reply, done) => {
    const header = request.headers.authorization;
    // API.md: answers that depend on the caller are private (a route may still set its own policy); so are
    // the token pairs and session cookies of /api/auth, whoever asks.
    const hasCredentials = header !== undefined && header !== "";
    if (hasCredentials || request.url.startsWith("/api/auth/"))
      void reply.header("cache-control", "private, no-store");
    if (!hasCredentials) {
      done();
      return;
    }
    const token = BEARER.exec(header)?.[1];
    const verified = token === undefined ? undefined : verifyAccessToken(keys, token, deps.clock.now());
    if (verified?.ok !== true) {
      request.authProblem = verified?.problem ?? "auth.invalid_token";
      done();
      return;
    }
    const claimed = verified.user;
    // The hot path: a known user costs one Map lookup and no await.
    const standing = currentUsers.cached(claimed.id);
    if (standing !== undefined) {
      admit(request, claimed, standing);
      done();
      return;
    }
    currentUsers.load(claimed.id).then((loaded) => {
      admit(request, claimed, loaded);
      done();
    }, done);
  });
}

function admit(request: FastifyRequest, claimed: AuthUser, standing: Standing): void {
  if (standing === null) {
    request.authProblem = "auth.invalid_token";
    return;
  }
  claimed.role = standing.role;
  request.user = claimed;
}

/** The signed-in caller; throws 401 auth.required, auth.invalid_token or auth.token_expired otherwise. */
export function requireUser(request: FastifyRequest): AuthUser {
  // The 401 must come before validation, which only a route's declared `security` arranges (route-auth.ts).
  // A route that forgot it fails every request, so its own tests and the property test catch it at once.
  if (request.routeOptions.schema?.security === undefined) {
    throw new Error(
      `${request.routeOptions.url ?? request.url} calls requireUser without declaring security`,
    );
  }
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
