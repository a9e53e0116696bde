import { z } from "zod";
import { boundedIntParam } from "./numbers.ts";
import { notificationJobPayloadSchemas } from "./notifications.ts";
import { photoJobPayloadSchemas } from "./photos.ts";
import { mailJobPayloadSchemas } from "./mail.ts";

/*
 * Background jobs: every job name and the schema of its payload. A job is sent by one process and run by a
 * worker (maybe another version of the code), so the payload is validated on send and again on receipt.
 */
export const jobPayloadSchemas = {
  /** Deletes expired idempotency keys, rate-limit counters, old outbox and inbox rows; every 10 minutes. */
  "maintenance.cleanup": z.object({}),
  /** Deletes refresh tokens expired over a day ago (the auth module's); every 10 minutes. */
  "auth.token-cleanup": z.object({}),
  /** Computes the hourly interaction rollups of closed hours that need it (the interactions module's); every minute. */
  "interactions.rollup": z.object({}),
  ...photoJobPayloadSchemas,
  ...notificationJobPayloadSchemas,
  ...mailJobPayloadSchemas,
} as const;

export type JobName = keyof typeof jobPayloadSchemas;
export type JobPayload<N extends JobName> = z.infer<(typeof jobPayloadSchemas)[N]>;

/** A job that used up its retries (or was rejected outright) and waits for an admin to retry it. */
export const deadJobSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  data: z.unknown(),
  /** The message of the last failure, when there was one. */
  error: z.string().nullable(),
  attempts: z.number().int().min(0),
  createdAt: z.iso.datetime(),
  failedAt: z.iso.datetime().nullable(),
});
export type DeadJob = z.infer<typeof deadJobSchema>;

export const deadJobListSchema = z.object({ items: z.array(deadJobSchema) });
export type DeadJobList = z.infer<typeof deadJobListSchema>;

export const deadJobListQuerySchema = z.object({
  limit: boundedIntParam(1, 100).default(20),
});
export const deadJobParamsSchema = z.object({ id: z.string().min(1).max(100) });
