import { z } from "zod";
import { cursorSchema, limitSchema } from "./events.ts";

/*
 * Photos (API.md "Photos"): guests' uploads through signed URLs, processed by a job into a stripped,
 * re-encoded photo and a thumbnail, and the domain events that put them on (and take them off) the wall.
 */

/** Types a client may declare. HEIC is refused: the prebuilt sharp here has no HEVC decoder (ADR 0019). */
export const PHOTO_CONTENT_TYPES = ["image/jpeg", "image/png", "image/webp"] as const;
export type PhotoContentType = (typeof PHOTO_CONTENT_TYPES)[number];

export const PHOTO_STATUSES = ["processing", "ready", "rejected"] as const;
export const photoStatusSchema = z.enum(PHOTO_STATUSES);
export type PhotoStatus = z.infer<typeof photoStatusSchema>;

export const photoSchema = z.object({
  id: z.uuid(),
  eventId: z.uuid(),
  uploader: z.object({ id: z.uuid(), name: z.string() }),
  status: photoStatusSchema,
  /** Known once ready; null while processing and when rejected. */
  width: z.number().int().min(1).nullable(),
  height: z.number().int().min(1).nullable(),
  /** Short-lived signed URLs of the thumbnail and the full photo; null unless ready. */
  urls: z.object({ thumb: z.string(), full: z.string() }).nullable(),
  createdAt: z.iso.datetime(),
});
export type Photo = z.infer<typeof photoSchema>;

export const photoPageSchema = z.object({ items: z.array(photoSchema), nextCursor: z.string().nullable() });
export type PhotoPage = z.infer<typeof photoPageSchema>;

/** POST /api/events/:id/photos/uploads: what the client means to send. Limits are rules (413, 415). */
export const photoUploadBodySchema = z.object({
  contentType: z.string().trim().toLowerCase().min(1).max(100),
  size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  filename: z.string().min(1).max(255).optional(),
});
export type PhotoUploadBody = z.infer<typeof photoUploadBodySchema>;

export const photoUploadSchema = z.object({
  uploadId: z.uuid(),
  /** Absolute; PUT the bytes here with `headers`. */
  url: z.string(),
  method: z.literal("PUT"),
  headers: z.record(z.string(), z.string()),
  expiresAt: z.iso.datetime(),
});
export type PhotoUpload = z.infer<typeof photoUploadSchema>;

export const photoUploadParamsSchema = z.object({ id: z.uuid(), uploadId: z.uuid() });
export const photoParamsSchema = z.object({ id: z.uuid(), photoId: z.uuid() });
export const photoListQuerySchema = z.object({ cursor: cursorSchema.optional(), limit: limitSchema });
export type PhotoListQuery = z.infer<typeof photoListQuerySchema>;

export const PHOTO_DOMAIN_EVENTS = {
  added: "photo.added.v1",
  removed: "photo.removed.v1",
} as const;

export const photoAddedDataSchema = z.object({ photo: photoSchema });
export type PhotoAddedData = z.infer<typeof photoAddedDataSchema>;
export const photoRemovedDataSchema = z.object({ eventId: z.uuid(), photoId: z.uuid() });
export type PhotoRemovedData = z.infer<typeof photoRemovedDataSchema>;

/** Job payloads of the photos module (registered in jobs.ts). */
export const photoJobPayloadSchemas = {
  /** Checks, strips, re-encodes and thumbnails one completed upload, then marks it ready or rejected. */
  "photos.process": z.object({ photoId: z.uuid() }),
  /** Deletes a removed photo's files from storage. */
  "photos.delete-files": z.object({ keys: z.array(z.string().min(1).max(300)).max(10) }),
} as const;
