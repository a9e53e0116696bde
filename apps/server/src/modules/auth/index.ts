// The auth module's only door: other modules, roles, tests and benches import from here, never its files.
// Sign-up, sessions and tokens, the guard that names the caller, and the user roles.
export { authRoutes } from "./auth.plugin.ts";
export type { AuthRoutesOptions } from "./auth.plugin.ts";
export { register } from "./auth.service.ts";
export { createCurrentUsers } from "./current-users.ts";
export type { CurrentUsers } from "./current-users.ts";
export { installAuth, requestRateLimitKey, requireRole, requireUser } from "./guard.ts";
export type { AuthUser } from "./guard.ts";
export { SIGNED_IN, SIGNED_IN_OR_ANONYMOUS, checkAuthBeforeValidation } from "./route-auth.ts";
export { createTokenKey, createTokenKeys, signAccessToken, verifyAccessToken } from "./tokens.ts";
export type { TokenKeys } from "./tokens.ts";
export { hasRole } from "./user-roles.ts";
export { deleteExpiredRefreshTokens, startTokenCleanup, TOKEN_CLEANUP_CRON } from "./token-cleanup.job.ts";
