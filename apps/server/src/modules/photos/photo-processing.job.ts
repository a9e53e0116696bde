import { PHOTO_DOMAIN_EVENTS, type PhotoAddedData } from "@turnout/contracts";
import { appendOutbox } from "../../platform/outbox/outbox.ts";
import { renderPhoto, sniffImageType, stopImageCache } from "./photo-images.ts";
import type { PhotosContext } from "./photos-context.ts";
import * as repo from "./photos.repo.ts";
import { toPhoto } from "./photo-view.ts";

/*
 * photos.process: the uploaded bytes become a photo. The real type comes from the bytes, never from what
 * the client declared; they are decoded, turned upright, re-encoded without metadata and thumbnailed; the
 * results are written under keys of the photo's own, then one transaction marks the photo ready, writes
 * `photo.added.v1` and queues the deletion of the original (which still carries its EXIF and GPS data).
 * Bytes that are not an accepted image, or do not decode, make the photo `rejected`. A storage or database
 * failure throws, and the job is retried; a retry overwrites the same keys, so it is harmless.
 */

/** Runs one photos.process job. */
export async function processPhoto(ctx: PhotosContext, photoId: string): Promise<void> {
  const photo = await repo.findPhoto(ctx.db, photoId);
  if (photo?.status !== "processing") return;
  const bytes = await readUpload(ctx, photo.uploadKey);
  if (sniffImageType(bytes) === null) {
    await reject(ctx, photo, "not a JPEG, PNG or WebP image");
    return;
  }
  let rendered;
  try {
    rendered = await renderPhoto(bytes);
  } catch (error) {
    await reject(ctx, photo, error instanceof Error ? error.message.slice(0, 200) : "does not decode");
    return;
  }
  const fullKey = `photos/${photo.eventId}/${photo.id}-full.jpg`;
  const thumbKey = `photos/${photo.eventId}/${photo.id}-thumb.jpg`;
  await ctx.storage.write(fullKey, rendered.full, "image/jpeg");
  await ctx.storage.write(thumbKey, rendered.thumb, "image/jpeg");
  const result = { width: rendered.width, height: rendered.height, fullKey, thumbKey };
  await ctx.db.transaction().execute(async (trx) => {
    if (!(await repo.markReady(trx, photo.id, result))) return;
    const data: PhotoAddedData = {
      photo: await toPhoto(ctx, { ...photo, ...result, status: "ready" }, ctx.publicOrigin),
    };
    await appendOutbox(trx, {
      aggregateType: "event",
      aggregateId: photo.eventId,
      type: PHOTO_DOMAIN_EVENTS.added,
      data,
    });
    await ctx.jobs.send("photos.delete-files", { keys: [photo.uploadKey] }, { trx });
  });
}

async function reject(ctx: PhotosContext, photo: repo.PhotoRecord, reason: string): Promise<void> {
  ctx.log.info({ photoId: photo.id, reason }, "photo rejected");
  await ctx.db.transaction().execute(async (trx) => {
    if (await repo.markRejected(trx, photo.id, reason)) {
      await ctx.jobs.send("photos.delete-files", { keys: [photo.uploadKey] }, { trx });
    }
  });
}

// The upload's bytes in one buffer of its size, filled as they stream in: never a list of chunks and a joined
// copy of them at once (the photo twice in memory). `complete` checked the size against the declared one.
async function readUpload(ctx: PhotosContext, key: string): Promise<Buffer> {
  const size = (await ctx.storage.stat(key))?.size;
  if (size === undefined) throw new Error(`the upload ${key} is gone`);
  const bytes = Buffer.allocUnsafe(size);
  let filled = 0;
  for await (const chunk of await ctx.storage.read(key)) {
    const part = chunk as Buffer;
    if (filled + part.length > size) throw new Error(`the upload ${key} grew while it was read`);
    part.copy(bytes, filled);
    filled += part.length;
  }
  if (filled !== size) throw new Error(`the upload ${key} ended after ${filled} of ${size} bytes`);
  return bytes;
}

/** Worker role: runs photos.process and photos.delete-files in this process. */
export function startPhotoJobs(ctx: PhotosContext, options: { concurrency: number }): void {
  stopImageCache();
  ctx.jobs.work("photos.process", ({ photoId }) => processPhoto(ctx, photoId), {
    concurrency: options.concurrency,
  });
  ctx.jobs.work("photos.delete-files", ({ keys }) => ctx.storage.delete(keys));
}
