import { PHOTO_DOMAIN_EVENTS, type PhotoAddedData } from "@turnout/contracts";
import type { Readable } from "node:stream";
import { appendOutbox } from "../../platform/outbox/outbox.ts";
import { renderPhoto, sniffImageType } from "./photo-images.ts";
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
  const bytes = await readAll(await ctx.storage.read(photo.uploadKey));
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

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Worker role: runs photos.process and photos.delete-files in this process. */
export function startPhotoJobs(ctx: PhotosContext, options: { concurrency: number }): void {
  ctx.jobs.work("photos.process", ({ photoId }) => processPhoto(ctx, photoId), {
    concurrency: options.concurrency,
  });
  ctx.jobs.work("photos.delete-files", ({ keys }) => ctx.storage.delete(keys));
}
