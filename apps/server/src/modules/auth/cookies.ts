import type { CookieSerializeOptions } from "@fastify/cookie";
import { REFRESH_COOKIE_NAME } from "@turnout/contracts";
import { REFRESH_TOKEN_TTL_MS } from "./tokens.ts";

export { REFRESH_COOKIE_NAME };

/** Attributes of the refresh cookie: HttpOnly, SameSite=Lax, Path=/api/auth, 30 days, Secure over HTTPS. */
export function refreshCookieOptions(isHttps: boolean): CookieSerializeOptions {
  return {
    httpOnly: true,
    sameSite: "lax",
    path: "/api/auth",
    secure: isHttps,
    maxAge: REFRESH_TOKEN_TTL_MS / 1000,
  };
}

/** The app's own origin: PUBLIC_URL's origin when configured, else the one the request was made to. */
export function ownOrigin(publicUrl: string | undefined, protocol: string, host: string): string {
  if (publicUrl !== undefined) return new URL(publicUrl).origin;
  return `${protocol}://${host}`.toLowerCase();
}

/** A cookie-authenticated request must come from our own origin (the cookie alone could be a CSRF). */
export function isOwnOrigin(origin: string | undefined, expected: string): boolean {
  if (origin === undefined) return false;
  try {
    return new URL(origin).origin === expected;
  } catch {
    return false;
  }
}
