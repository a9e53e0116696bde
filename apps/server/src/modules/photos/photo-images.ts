import { open } from "node:fs/promises";
import type { PhotoContentType } from "@turnout/contracts";
import sharp, { type OutputInfo, type Sharp } from "sharp";

// What a photo's bytes really are, and the one pass that turns them into what is served.

/** The image type the bytes' signature shows, whatever the client declared; null for anything else. */
export function sniffImageType(bytes: Buffer): PhotoContentType | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= png.length && png.every((byte, index) => bytes[index] === byte)) return "image/png";
  const isRiff = bytes.subarray(0, 4).toString("latin1") === "RIFF";
  if (isRiff && bytes.subarray(8, 12).toString("latin1") === "WEBP") return "image/webp";
  return null;
}

// The longest signature sniffImageType looks at (RIFF....WEBP).
const SIGNATURE_BYTES = 12;

/** sniffImageType of the file at `path`, reading only its first bytes. */
export async function sniffImageFile(path: string): Promise<PhotoContentType | null> {
  const file = await open(path, "r");
  try {
    const head = Buffer.alloc(SIGNATURE_BYTES);
    const { bytesRead } = await file.read(head, 0, SIGNATURE_BYTES, 0);
    return sniffImageType(head.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

/**
 * Turns off libvips's operation cache (by default up to 50 MiB and 100 operations, input buffers included):
 * every photo is decoded once and never again, so the cache only kept earlier photos in memory.
 */
export function stopImageCache(): void {
  sharp.cache(false);
}

export const THUMB_SIZE = 480;
const FULL_QUALITY = 85;
const THUMB_QUALITY = 78;
// A decompression bomb (a tiny file claiming huge dimensions) is refused before its pixels are allocated.
const MAX_INPUT_PIXELS = 100_000_000;

/** The full image's size after turning it upright. */
export interface RenderedSize {
  width: number;
  height: number;
}

/** Thrown when the bytes do not decode as the image they claim to be: the photo is rejected, not retried. */
export class UndecodablePhoto extends Error {
  override name = "UndecodablePhoto";
}

/**
 * The full image: decoded from the file at `input`, turned upright (EXIF orientation) and re-encoded as JPEG
 * without any metadata (sharp writes none unless asked: EXIF, GPS, XMP and IPTC are all dropped) into the file
 * at `output`. libvips reads and writes the files itself, so no photo-sized buffer reaches the JavaScript heap
 * (where each one made the collector run: 16% of the worker's main thread while a queue drained).
 * UndecodablePhoto when the input does not decode; any other error (writing the output) is thrown as it is.
 */
export async function renderFull(input: string, output: string): Promise<RenderedSize> {
  const info = await encode(decoded(input).jpeg({ quality: FULL_QUALITY }), output);
  return { width: info.width, height: info.height };
}

/**
 * The thumbnail (fits THUMB_SIZE), the same way. JPEG's shrink-on-load decodes at 1/8 scale here, so this
 * second decode costs about a sixth of the first. Run one after renderFull, not beside it: each sharp call
 * holds one of libuv's 4 threads for its whole run, and libvips works each photo on one core (sharp's
 * concurrency is 1 on glibc without jemalloc), so two at once per photo gained nothing and queued the storage's
 * file operations behind them.
 */
export async function renderThumb(input: string, output: string): Promise<void> {
  const thumb = decoded(input).resize({
    width: THUMB_SIZE,
    height: THUMB_SIZE,
    fit: "inside",
    withoutEnlargement: true,
  });
  await encode(thumb.jpeg({ quality: THUMB_QUALITY }), output);
}

function decoded(input: string): Sharp {
  return sharp(input, { failOn: "error", limitInputPixels: MAX_INPUT_PIXELS }).rotate();
}

// libvips names the file in every error opening or writing it; any other error is about the input's bytes.
async function encode(pipeline: Sharp, output: string): Promise<OutputInfo> {
  try {
    return await pipeline.toFile(output);
  } catch (error) {
    if (error instanceof Error && !error.message.includes(output)) {
      throw new UndecodablePhoto(error.message.slice(0, 200), { cause: error });
    }
    throw error;
  }
}
