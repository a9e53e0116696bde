import {
  PHOTO_CONTENT_TYPES,
  PHOTO_DOMAIN_EVENTS,
  type Event,
  type Photo,
  type PhotoListQuery,
  type PhotoPage,
  type PhotoRemovedData,
  type PhotoUpload,
  type PhotoUploadBody,
} from "@turnout/contracts";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import { readCursor, writeCursor } from "../../platform/cursor.ts";
import { AppError } from "../../platform/errors.ts";
import { appendOutbox } from "../../platform/outbox/outbox.ts";
import type { ZipEntry } from "../../platform/zip-stream.ts";
import type { AuthUser } from "../auth/index.ts";
import { canManageEvent, canSeeEvent, findEventsByIds } from "../events/index.ts";
import { findParticipationStatus } from "../participation/index.ts";
import type { PhotosContext } from "./photos-context.ts";
import * as repo from "./photos.repo.ts";
import { toPhoto } from "./photo-view.ts";

/** How long a signed upload URL accepts its PUT (API.md: 15 minutes). */
export const UPLOAD_URL_TTL_MS = 15 * 60 * 1000;

const photoNotFound = () => new AppError("photo.not_found", "No such photo.");

/** The event if the caller may see it; 404 event.not_found otherwise. */
async function findVisibleEvent(ctx: PhotosContext, actor: AuthUser | null, eventId: string): Promise<Event> {
  const event = (await findEventsByIds(ctx, [eventId])).get(eventId);
  if (event === undefined || !canSeeEvent(actor, ownable(event))) {
    throw new AppError("event.not_found", "No such event.");
  }
  return event;
}

const ownable = (event: Event) => ({ status: event.status, organizerId: event.organizer.id });

/** Organizer, moderators and admins: every photo in any status, deletion of any, the archive. */
function canManagePhotos(actor: AuthUser | null, event: Event): boolean {
  return canManageEvent(actor, ownable(event));
}

/** Grants one upload to a confirmed participant or the organizer: a signed URL valid 15 minutes. */
export async function createUpload(
  ctx: PhotosContext,
  actor: AuthUser,
  eventId: string,
  body: PhotoUploadBody,
  origin: string,
): Promise<PhotoUpload> {
  const event = await findVisibleEvent(ctx, actor, eventId);
  const isOrganizer = event.organizer.id === actor.id;
  if (!isOrganizer && (await findParticipationStatus(ctx.db, eventId, actor.id)) !== "confirmed") {
    throw new AppError("auth.forbidden", "Only confirmed participants and the organizer may upload photos.");
  }
  const contentType = PHOTO_CONTENT_TYPES.find((type) => type === body.contentType);
  if (contentType === undefined) {
    throw new AppError("photo.unsupported_type", `Photos may be ${PHOTO_CONTENT_TYPES.join(", ")}.`);
  }
  if (body.size > ctx.maxBytes) {
    throw new AppError("photo.too_large", `A photo may have at most ${ctx.maxBytes} bytes.`);
  }
  const id = uuidv7();
  const expiresAt = new Date(ctx.clock.now().getTime() + UPLOAD_URL_TTL_MS);
  const upload = {
    id,
    eventId,
    uploaderId: actor.id,
    contentType,
    declaredSize: body.size,
    storageKey: `uploads/${id}`,
    filename: body.filename ?? null,
    expiresAt,
  };
  await repo.insertUpload(ctx.db, upload);
  const signed = await ctx.storage.signUpload(upload.storageKey, { contentType, size: body.size, expiresAt });
  return {
    uploadId: id,
    url: new URL(signed.url, origin).toString(),
    method: "PUT",
    headers: signed.headers,
    expiresAt: expiresAt.toISOString(),
  };
}

export interface CompleteOutcome {
  photo: Photo;
  /** False when the upload was completed before: the same photo in its current status. */
  isNew: boolean;
}

/** Turns an uploaded object into a photo in `processing` and queues its processing; repeatable. */
export async function completeUpload(
  ctx: PhotosContext,
  actor: AuthUser,
  eventId: string,
  uploadId: string,
  origin: string,
): Promise<CompleteOutcome> {
  await findVisibleEvent(ctx, actor, eventId);
  const upload = await repo.findUpload(ctx.db, eventId, uploadId);
  if (upload === undefined) throw new AppError("upload.not_found", "No such upload.");
  if (upload.uploaderId !== actor.id) throw new AppError("auth.forbidden", "This upload is someone else's.");
  const existing = await repo.findPhotoOfUpload(ctx.db, uploadId);
  if (existing !== undefined) return { photo: await toPhoto(ctx, existing, origin), isNew: false };

  const stored = await ctx.storage.stat(upload.storageKey);
  if (stored === null) throw new AppError("upload.missing", "Nothing was uploaded to this upload's URL yet.");
  if (stored.size > upload.declaredSize) {
    throw new AppError("photo.too_large", "More bytes arrived than the upload declared.");
  }
  const isNew = await ctx.db.transaction().execute(async (trx) => {
    const photoId = uuidv7();
    const inserted = await repo.insertPhoto(trx, { id: photoId, upload, createdAt: ctx.clock.now() });
    if (inserted) await ctx.jobs.send("photos.process", { photoId }, { trx });
    return inserted;
  });
  // Committed: a worker loop in this process starts on it now instead of at its next poll (up to 2 s).
  if (isNew) ctx.jobs.wake("photos.process");
  const photo = await repo.findPhotoOfUpload(ctx.db, uploadId);
  if (photo === undefined) throw new AppError("internal", "The completed upload has no photo.");
  return { photo: await toPhoto(ctx, photo, origin), isNew };
}

const listCursorSchema = z.object({ before: z.uuid() });

/** An event's ready photos, newest first, for anyone who may see the event. */
export async function listPhotos(
  ctx: PhotosContext,
  actor: AuthUser | null,
  eventId: string,
  query: PhotoListQuery,
  origin: string,
): Promise<PhotoPage> {
  await findVisibleEvent(ctx, actor, eventId);
  const beforeId = query.cursor === undefined ? undefined : readCursor(query.cursor, listCursorSchema).before;
  const records = await repo.listReadyPhotos(ctx.db, eventId, { beforeId, limit: query.limit + 1 });
  const page = records.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: await Promise.all(page.map((record) => toPhoto(ctx, record, origin))),
    nextCursor: records.length > query.limit && last !== undefined ? writeCursor({ before: last.id }) : null,
  };
}

/** One photo: any status for its uploader and those who manage the event, ready ones for everyone else. */
export async function getPhoto(
  ctx: PhotosContext,
  actor: AuthUser | null,
  eventId: string,
  photoId: string,
  origin: string,
): Promise<Photo> {
  const event = await findVisibleEvent(ctx, actor, eventId);
  const photo = await repo.findPhoto(ctx.db, photoId);
  if (photo === undefined || photo.eventId !== eventId || !maySeePhoto(actor, event, photo)) {
    throw photoNotFound();
  }
  return toPhoto(ctx, photo, origin);
}

function maySeePhoto(actor: AuthUser | null, event: Event, photo: repo.PhotoRecord): boolean {
  return photo.status === "ready" || actor?.id === photo.uploader.id || canManagePhotos(actor, event);
}

/** Deletes a photo (its uploader, the organizer, moderators+), tells the wall, and queues its files' removal. */
export async function deletePhoto(
  ctx: PhotosContext,
  actor: AuthUser,
  eventId: string,
  photoId: string,
): Promise<void> {
  const event = await findVisibleEvent(ctx, actor, eventId);
  const photo = await repo.findPhoto(ctx.db, photoId);
  if (photo === undefined || photo.eventId !== eventId || !maySeePhoto(actor, event, photo)) {
    throw photoNotFound();
  }
  if (actor.id !== photo.uploader.id && !canManagePhotos(actor, event)) {
    throw new AppError(
      "auth.forbidden",
      "Only the uploader, the organizer and moderators may delete a photo.",
    );
  }
  await ctx.db.transaction().execute(async (trx) => {
    if (!(await repo.deletePhoto(trx, photo))) return;
    const data: PhotoRemovedData = { eventId, photoId };
    await appendOutbox(trx, {
      aggregateType: "event",
      aggregateId: eventId,
      type: PHOTO_DOMAIN_EVENTS.removed,
      data,
    });
    const keys = [photo.fullKey, photo.thumbKey, photo.uploadKey].filter((key) => key !== null);
    await ctx.jobs.send("photos.delete-files", { keys }, { trx });
  });
}

/** The event if the caller may download its archive (organizer, moderators+); 404 or 403 otherwise. */
export async function findArchivableEvent(
  ctx: PhotosContext,
  actor: AuthUser,
  eventId: string,
): Promise<Event> {
  const event = await findVisibleEvent(ctx, actor, eventId);
  if (!canManagePhotos(actor, event)) {
    throw new AppError("auth.forbidden", "Only the organizer and moderators may download all photos.");
  }
  return event;
}

const ARCHIVE_PAGE = 100;

/** The archive's entries: every ready photo of the event, newest first, read page by page. */
export async function* listArchiveEntries(ctx: PhotosContext, eventId: string): AsyncGenerator<ZipEntry> {
  let beforeId: string | undefined;
  for (;;) {
    const page = await repo.listReadyPhotos(ctx.db, eventId, { beforeId, limit: ARCHIVE_PAGE });
    for (const [index, photo] of page.entries()) {
      const key = photo.fullKey;
      if (key === null) continue;
      yield {
        name: `${photo.createdAt.toISOString().slice(0, 10)}-${photo.id}.jpg`,
        modifiedAt: photo.createdAt,
        // A photo deleted while the archive streams is left out rather than failing the download.
        open: async () => ((await ctx.storage.stat(key)) === null ? null : ctx.storage.read(key)),
      };
      if (index === page.length - 1) beforeId = photo.id;
    }
    if (page.length < ARCHIVE_PAGE) return;
  }
}
