import type { Photo } from "@turnout/contracts";
import { absoluteUrl } from "../../platform/storage/storage.ts";
import type { PhotosContext } from "./photos-context.ts";
import type { PhotoRecord } from "./photos.repo.ts";

/** How long the signed links in a photo answer keep working. */
export const DOWNLOAD_URL_TTL_MS = 60 * 60 * 1000;

/**
 * The photo as the API shows it, with freshly signed links. `origin` makes the local driver's links
 * absolute; without one (a message written by the worker, no PUBLIC_URL) they stay root-relative.
 */
export async function toPhoto(
  ctx: PhotosContext,
  record: PhotoRecord,
  origin: string | undefined,
): Promise<Photo> {
  const expiresAt = new Date(ctx.clock.now().getTime() + DOWNLOAD_URL_TTL_MS);
  const link = async (key: string) => {
    const url = await ctx.storage.signDownload(key, expiresAt);
    return origin === undefined ? url : absoluteUrl(url, origin);
  };
  const isReady = record.status === "ready" && record.fullKey !== null && record.thumbKey !== null;
  return {
    id: record.id,
    eventId: record.eventId,
    uploader: record.uploader,
    status: record.status,
    width: isReady ? record.width : null,
    height: isReady ? record.height : null,
    urls:
      isReady && record.fullKey !== null && record.thumbKey !== null
        ? { thumb: await link(record.thumbKey), full: await link(record.fullKey) }
        : null,
    createdAt: record.createdAt.toISOString(),
  };
}
