import { z } from "zod";

/** Roles in ascending order of power: user < moderator < admin. */
export const USER_ROLES = ["user", "moderator", "admin"] as const;
export const userRoleSchema = z.enum(USER_ROLES);
export type UserRole = z.infer<typeof userRoleSchema>;

export const PASSWORD_MIN_LENGTH = 10;
// argon2 hashes any length, but an unbounded password is a cheap way to burn server CPU.
export const PASSWORD_MAX_LENGTH = 1024;

export const userSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  role: userRoleSchema,
  createdAt: z.iso.datetime(),
});
export type User = z.infer<typeof userSchema>;

const emailSchema = z.email().max(254);
const nameSchema = z.string().trim().min(1).max(100);

export const registerBodySchema = z.object({
  email: emailSchema,
  password: z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH),
  name: nameSchema,
});
export type RegisterBody = z.infer<typeof registerBodySchema>;

export const loginBodySchema = z.object({
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
});
export type LoginBody = z.infer<typeof loginBodySchema>;

export const authResponseSchema = z.object({
  user: userSchema,
  accessToken: z.string(),
  refreshToken: z.string(),
});
export type AuthResponse = z.infer<typeof authResponseSchema>;

/** Refresh and logout take the token in the body, or (web app) from the `turnout_refresh` cookie when omitted. */
export const refreshBodySchema = z.object({ refreshToken: z.string().min(1).max(200).optional() });
export type RefreshBody = z.infer<typeof refreshBodySchema>;

export const updateMeBodySchema = z.object({ name: nameSchema.optional() });
export type UpdateMeBody = z.infer<typeof updateMeBodySchema>;

export const updateUserRoleBodySchema = z.object({ role: userRoleSchema });
export type UpdateUserRoleBody = z.infer<typeof updateUserRoleBodySchema>;

export const userIdParamsSchema = z.object({ id: z.uuid() });

export const REFRESH_COOKIE_NAME = "turnout_refresh";

export const AUTH_DOMAIN_EVENTS = {
  userRegistered: "user.registered.v1",
} as const;

// Longer than any real browser sends; the rest would not change which language comes first.
export const ACCEPT_LANGUAGE_MAX_LENGTH = 200;

/** Data of `user.registered.v1`: who signed up, and the languages their browser asked for (Accept-Language). */
export const userRegisteredDataSchema = z.object({
  userId: z.uuid(),
  acceptLanguage: z.string().max(ACCEPT_LANGUAGE_MAX_LENGTH).nullable(),
});
export type UserRegisteredData = z.infer<typeof userRegisteredDataSchema>;
