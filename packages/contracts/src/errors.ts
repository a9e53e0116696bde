import { z } from "zod";

/** Every stable error code a client may see (API.md). Add codes here; never rename one. */
export const ERROR_CODES = [
  "validation.failed",
  "request.malformed",
  "request.too_large",
  "request.unsupported_media_type",
  "request.uri_too_long",
  "request.headers_too_large",
  "request.timeout",
  "route.not_found",
  "auth.required",
  "auth.invalid_token",
  "auth.token_expired",
  "auth.forbidden",
  "auth.invalid_credentials",
  "auth.email_taken",
  "auth.token_reused",
  "user.not_found",
  "user.last_admin",
  "rate_limited",
  "idempotency.mismatch",
  "idempotency.in_progress",
  "job.not_found",
  "event.not_found",
  "event.invalid_state",
  "event.in_past",
  "event.capacity_below_confirmed",
  "event.full",
  "event.closed",
  "join.forbidden",
  "participation.not_found",
  "ticket.unavailable",
  "ticket.invalid",
  "calendar.not_found",
  "resource.version_mismatch",
  "photo.not_found",
  "photo.too_large",
  "photo.unsupported_type",
  "upload.not_found",
  "upload.missing",
  "source.invalid_key",
  "source.not_found",
  "service.unavailable",
  "internal",
  "unsubscribe.invalid_token",
  "mail.not_found",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const validationDetailSchema = z.object({ path: z.string(), message: z.string() });
export type ValidationDetail = z.infer<typeof validationDetailSchema>;
