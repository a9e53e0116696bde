import type { PhotoStatus } from "@turnout/contracts";
import type { Executor, Trx } from "../../platform/db.ts";

// Kysely only: the photo_uploads and photos tables (this module owns both). Uploader names come from users.

export interface UploadRecord {
  id: string;
  eventId: string;
  uploaderId: string;
  contentType: string;
  declaredSize: number;
  storageKey: string;
}

export interface PhotoRecord {
  id: string;
  eventId: string;
  uploadId: string;
  uploader: { id: string; name: string };
  status: PhotoStatus;
  width: number | null;
  height: number | null;
  fullKey: string | null;
  thumbKey: string | null;
  uploadKey: string;
  createdAt: Date;
}

export interface NewUpload extends UploadRecord {
  filename: string | null;
  expiresAt: Date;
}

export async function insertUpload(db: Executor, upload: NewUpload): Promise<void> {
  await db
    .insertInto("photo_uploads")
    .values({
      id: upload.id,
      event_id: upload.eventId,
      uploader_id: upload.uploaderId,
      content_type: upload.contentType,
      declared_size: upload.declaredSize,
      filename: upload.filename,
      storage_key: upload.storageKey,
      expires_at: upload.expiresAt,
    })
    .execute();
}

/** The upload with this id at this event, or undefined. */
export async function findUpload(
  db: Executor,
  eventId: string,
  id: string,
): Promise<UploadRecord | undefined> {
  const row = await db
    .selectFrom("photo_uploads")
    .select(["id", "event_id", "uploader_id", "content_type", "declared_size", "storage_key"])
    .where("id", "=", id)
    .where("event_id", "=", eventId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    id: row.id,
    eventId: row.event_id,
    uploaderId: row.uploader_id,
    contentType: row.content_type,
    declaredSize: row.declared_size,
    storageKey: row.storage_key,
  };
}

/** Creates the upload's photo in `processing`; false when the upload already has one. */
export async function insertPhoto(
  trx: Trx,
  photo: { id: string; upload: UploadRecord; createdAt: Date },
): Promise<boolean> {
  const inserted = await trx
    .insertInto("photos")
    .values({
      id: photo.id,
      event_id: photo.upload.eventId,
      upload_id: photo.upload.id,
      uploader_id: photo.upload.uploaderId,
      status: "processing",
      created_at: photo.createdAt,
    })
    .onConflict((conflict) => conflict.column("upload_id").doNothing())
    .returning("id")
    .executeTakeFirst();
  return inserted !== undefined;
}

function selectPhotos(db: Executor) {
  return db
    .selectFrom("photos")
    .innerJoin("users", "users.id", "photos.uploader_id")
    .innerJoin("photo_uploads", "photo_uploads.id", "photos.upload_id")
    .select([
      "photos.id",
      "photos.event_id",
      "photos.upload_id",
      "photos.uploader_id",
      "users.name as uploader_name",
      "photos.status",
      "photos.width",
      "photos.height",
      "photos.full_key",
      "photos.thumb_key",
      "photo_uploads.storage_key as upload_key",
      "photos.created_at",
    ]);
}

type PhotoRow = Awaited<ReturnType<ReturnType<typeof selectPhotos>["executeTakeFirstOrThrow"]>>;

function toPhotoRecord(row: PhotoRow): PhotoRecord {
  return {
    id: row.id,
    eventId: row.event_id,
    uploadId: row.upload_id,
    uploader: { id: row.uploader_id, name: row.uploader_name },
    status: row.status,
    width: row.width,
    height: row.height,
    fullKey: row.full_key,
    thumbKey: row.thumb_key,
    uploadKey: row.upload_key,
    createdAt: row.created_at,
  };
}

export async function findPhoto(db: Executor, id: string): Promise<PhotoRecord | undefined> {
  const row = await selectPhotos(db).where("photos.id", "=", id).executeTakeFirst();
  return row === undefined ? undefined : toPhotoRecord(row);
}

export async function findPhotoOfUpload(db: Executor, uploadId: string): Promise<PhotoRecord | undefined> {
  const row = await selectPhotos(db).where("photos.upload_id", "=", uploadId).executeTakeFirst();
  return row === undefined ? undefined : toPhotoRecord(row);
}

/** An event's ready photos, newest first, after the photo `beforeId` when given. */
export async function listReadyPhotos(
  db: Executor,
  eventId: string,
  page: { beforeId: string | undefined; limit: number },
): Promise<PhotoRecord[]> {
  let query = selectPhotos(db)
    .where("photos.event_id", "=", eventId)
    .where("photos.status", "=", "ready")
    .orderBy("photos.id", "desc")
    .limit(page.limit);
  if (page.beforeId !== undefined) query = query.where("photos.id", "<", page.beforeId);
  const rows = await query.execute();
  return rows.map(toPhotoRecord);
}

/** Marks a processing photo ready with its files; false when it was not processing any more. */
export async function markReady(
  trx: Trx,
  id: string,
  result: { width: number; height: number; fullKey: string; thumbKey: string },
): Promise<boolean> {
  const updated = await trx
    .updateTable("photos")
    .set({
      status: "ready",
      width: result.width,
      height: result.height,
      full_key: result.fullKey,
      thumb_key: result.thumbKey,
    })
    .where("id", "=", id)
    .where("status", "=", "processing")
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

/** Marks a processing photo rejected; false when it was not processing any more. */
export async function markRejected(trx: Trx, id: string, reason: string): Promise<boolean> {
  const updated = await trx
    .updateTable("photos")
    .set({ status: "rejected", rejected_reason: reason })
    .where("id", "=", id)
    .where("status", "=", "processing")
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

/** Deletes a photo and its upload; false when it was already gone. */
export async function deletePhoto(trx: Trx, photo: PhotoRecord): Promise<boolean> {
  const deleted = await trx.deleteFrom("photos").where("id", "=", photo.id).executeTakeFirst();
  await trx.deleteFrom("photo_uploads").where("id", "=", photo.uploadId).execute();
  return deleted.numDeletedRows > 0n;
}
