import { PHOTO_DOMAIN_EVENTS, type PhotoAddedData } from "@turnout/contracts";
import { appendOutbox } from "../../platform/outbox/outbox.ts";
import {
  renderFull,
  renderThumb,
  sniffImageFile,
  stopImageCache,
  UndecodablePhoto,
  type RenderedSize,
} from "./photo-images.ts";
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

type Outcome = { rejected: string } | { size: RenderedSize };

/** Runs one photos.process job. */
export async function processPhoto(ctx: PhotosContext, photoId: string): Promise<void> {
  const photo = await repo.findPhoto(ctx.db, photoId);
  if (photo?.status !== "processing") return;
  const fullKey = `photos/${photo.eventId}/${photo.id}-full.jpg`;
  const thumbKey = `photos/${photo.eventId}/${photo.id}-thumb.jpg`;
  // The upload as a file (the stored one itself on the local disk) that sharp reads, and the results written
  // by sharp into files the storage then keeps: the photo's bytes never enter the JavaScript heap.
  const outcome = await ctx.storage.readViaFile(photo.uploadKey, async (input): Promise<Outcome> => {
    if ((await sniffImageFile(input)) === null) return { rejected: "not a JPEG, PNG or WebP image" };
    try {
      const size = await ctx.storage.writeViaFile(fullKey, "image/jpeg", (output) =>
        renderFull(input, output),
      );
      await ctx.storage.writeViaFile(thumbKey, "image/jpeg", (output) => renderThumb(input, output));
      return { size };
    } catch (error) {
      if (error instanceof UndecodablePhoto) return { rejected: error.message };
      throw error;
    }
  });
  if ("rejected" in outcome) {
    // A full image written before the thumbnail failed is removed with the upload.
    await reject(ctx, photo, outcome.rejected, [fullKey]);
    return;
  }
  const result = { ...outcome.size, fullKey, thumbKey };
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

async function reject(
  ctx: PhotosContext,
  photo: repo.PhotoRecord,
  reason: string,
  written: readonly string[],
): Promise<void> {
  ctx.log.info({ photoId: photo.id, reason }, "photo rejected");
  await ctx.db.transaction().execute(async (trx) => {
    if (await repo.markRejected(trx, photo.id, reason)) {
      await ctx.jobs.send("photos.delete-files", { keys: [photo.uploadKey, ...written] }, { trx });
    }
  });
}

/** Worker role: runs photos.process and photos.delete-files in this process. */
export function startPhotoJobs(ctx: PhotosContext, options: { concurrency: number }): void {
  stopImageCache();
  ctx.jobs.work("photos.process", ({ photoId }) => processPhoto(ctx, photoId), {
    concurrency: options.concurrency,
  });
  ctx.jobs.work("photos.delete-files", ({ keys }) => ctx.storage.delete(keys));
}
