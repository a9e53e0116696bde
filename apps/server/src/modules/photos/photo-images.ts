import type { PhotoContentType } from "@turnout/contracts";
import sharp from "sharp";

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

export interface RenderedPhoto {
  full: Buffer;
  thumb: Buffer;
  width: number;
  height: number;
}

/**
 * Decodes, turns upright (EXIF orientation), and re-encodes as JPEG without any metadata (sharp writes
 * none unless asked: EXIF, GPS, XMP and IPTC are all dropped), plus a thumbnail that fits THUMB_SIZE.
 * Throws on bytes that do not decode.
 * The two encodes run one after the other: each sharp call holds a thread of libuv's pool (4 threads) for its
 * whole run while libvips spreads the pixels over every core itself, so two at once per photo gained no CPU and,
 * with two photos in hand, filled the pool and left the storage's file reads and writes queued behind them.
 */
export async function renderPhoto(bytes: Buffer): Promise<RenderedPhoto> {
  const upright = sharp(bytes, { failOn: "error", limitInputPixels: MAX_INPUT_PIXELS }).rotate();
  const full = await upright.clone().jpeg({ quality: FULL_QUALITY }).toBuffer({ resolveWithObject: true });
  const thumb = await upright
    .clone()
    .resize({ width: THUMB_SIZE, height: THUMB_SIZE, fit: "inside", withoutEnlargement: true })
    .jpeg({ quality: THUMB_QUALITY })
    .toBuffer();
  return { full: full.data, thumb, width: full.info.width, height: full.info.height };
}
