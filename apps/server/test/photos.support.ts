import { photoSchema, photoUploadSchema, type Photo, type PhotoUpload } from "@turnout/contracts";
import sharp from "sharp";
import type { TestApp } from "./app.ts";
import { bearer } from "./factories.ts";

// Test support for the photos suites: real images, uploads through the real flow over a real socket.

/** A JPEG that says it was taken in Berlin (GPS tags), by "TestCam", lying on its side (orientation 6). */
export function createGpsJpeg(width = 64, height = 32): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 10, b: 10 } } })
    .jpeg()
    .withExif({
      IFD0: { Make: "TestCam" },
      IFD3: {
        GPSLatitudeRef: "N",
        GPSLatitude: "52/1 31/1 0/1",
        GPSLongitudeRef: "E",
        GPSLongitude: "13/1 24/1 0/1",
      },
    })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

// 0x8825, the EXIF tag that points at the GPS directory, as stored little-endian by libvips.
const GPS_POINTER_TAG = Buffer.from([0x25, 0x88]);

/** True when an EXIF block carries a GPS directory. */
export function hasGpsDirectory(exif: Buffer | undefined): boolean {
  return exif !== undefined && exif.includes(GPS_POINTER_TAG);
}

/**
 * The Host header of the listening app: answers build their links (upload and download URLs) from the
 * request's host, and a test fetches those links over the network.
 */
export function hostOf(t: TestApp): { host: string } {
  const address = t.app.server.address();
  if (address === null || typeof address === "string") throw new Error("the test app is not listening");
  return { host: `127.0.0.1:${address.port}` };
}

/** Asks for an upload; throws unless 201. */
export async function requestUpload(
  t: TestApp,
  who: { accessToken: string },
  eventId: string,
  body: { contentType: string; size: number; filename?: string },
): Promise<PhotoUpload> {
  const response = await t.app.inject({
    method: "POST",
    url: `/api/events/${eventId}/photos/uploads`,
    headers: { ...bearer(who), ...hostOf(t) },
    payload: body,
  });
  if (response.statusCode !== 201) throw new Error(`upload request: ${response.statusCode} ${response.body}`);
  return photoUploadSchema.parse(response.json());
}

/** PUTs bytes to a signed upload URL over the network; the status. */
export async function putBytes(upload: PhotoUpload, bytes: Buffer): Promise<number> {
  const response = await fetch(upload.url, { method: upload.method, headers: upload.headers, body: bytes });
  await response.arrayBuffer();
  return response.status;
}

export function complete(t: TestApp, who: { accessToken: string }, eventId: string, uploadId: string) {
  return t.app.inject({
    method: "POST",
    url: `/api/events/${eventId}/photos/uploads/${uploadId}/complete`,
    headers: { ...bearer(who), ...hostOf(t) },
  });
}

/** The whole flow: request, PUT, complete (202). The photo in processing. */
export async function uploadPhoto(
  t: TestApp,
  who: { accessToken: string },
  eventId: string,
  bytes: Buffer,
  contentType = "image/jpeg",
): Promise<Photo> {
  const upload = await requestUpload(t, who, eventId, { contentType, size: bytes.length });
  const status = await putBytes(upload, bytes);
  if (status !== 200) throw new Error(`PUT answered ${status}`);
  const response = await complete(t, who, eventId, upload.uploadId);
  if (response.statusCode !== 202) throw new Error(`complete: ${response.statusCode} ${response.body}`);
  return photoSchema.parse(response.json());
}

/** Polls the photo (as `who`) until it leaves `processing`; fails after `timeoutMs`. */
export async function waitForProcessed(
  t: TestApp,
  who: { accessToken: string },
  eventId: string,
  photoId: string,
  timeoutMs = 20_000,
): Promise<Photo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await t.app.inject({
      method: "GET",
      url: `/api/events/${eventId}/photos/${photoId}`,
      headers: { ...bearer(who), ...hostOf(t) },
    });
    const photo = photoSchema.parse(response.json());
    if (photo.status !== "processing") return photo;
    if (Date.now() > deadline) throw new Error(`photo ${photoId} still processing`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls until `check` holds; fails after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
