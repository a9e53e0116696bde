import type { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";

/*
 * Where uploaded files live: one interface, two drivers. `local` keeps files under DATA_DIR/files and serves
 * them through short-lived HMAC-signed URLs of the app itself (local-storage.ts); `s3` hands out presigned
 * URLs of an S3-compatible store (s3-storage.ts). Clients send and fetch bytes through those URLs, never
 * through an API route, so the bytes never pass through a JSON route's limits.
 */

/** What a client must send to put an object: PUT `url` with `headers`. */
export interface SignedUpload {
  /** Absolute (S3) or root-relative (local: resolved against the app's origin by the caller). */
  url: string;
  headers: Record<string, string>;
}

export interface UploadTerms {
  contentType: string;
  /** Exactly this many bytes; more (or fewer) are refused. */
  size: number;
  expiresAt: Date;
}

export interface Storage {
  readonly driver: "local" | "s3";
  /** A URL that accepts one PUT of exactly `terms.size` bytes of `terms.contentType` until `terms.expiresAt`. */
  signUpload(key: string, terms: UploadTerms): Promise<SignedUpload>;
  /** A URL that serves the object until `expiresAt` (absolute for S3, root-relative for local). */
  signDownload(key: string, expiresAt: Date): Promise<string>;
  /** The object's size, or null when nothing is stored under `key`. */
  stat(key: string): Promise<{ size: number } | null>;
  /** Streams the object; fails when it is missing. */
  read(key: string): Promise<Readable>;
  write(key: string, body: Buffer, contentType: string): Promise<void>;
  /**
   * Runs `use` with the path of a file on this machine holding the object's bytes as they were when the call
   * began (a PUT to the same key meanwhile changes nothing under `use`), removed when `use` settles: the
   * object itself, hard-linked, for the local driver; a downloaded copy for S3. Fails when it is missing.
   * For readers that take a path (sharp), so the bytes never pass through the JavaScript heap.
   */
  readViaFile<T>(key: string, use: (path: string) => Promise<T>): Promise<T>;
  /**
   * Runs `produce` with the path of a new file to write, then stores that file under `key`: renamed into
   * place for the local driver (the key shows the whole file or the previous one, never a part), uploaded
   * and removed for S3. Nothing is stored when `produce` fails. `produce`'s result is returned.
   */
  writeViaFile<T>(key: string, contentType: string, produce: (path: string) => Promise<T>): Promise<T>;
  /** Deletes the objects; missing ones are no error. */
  delete(keys: readonly string[]): Promise<void>;
  /** Registers the routes that serve this driver's signed URLs (the local driver's; none for S3). */
  registerRoutes(app: FastifyInstance): Promise<void>;
  close(): void;
}

// Keys are made by the server (`uploads/<uuid>`, `photos/<event>/<photo>-thumb.jpg`); anything else is refused
// before it can name a path outside the store.
const KEY_PATTERN = /^[a-z0-9][a-z0-9-]*(\/[a-z0-9][a-z0-9._-]*)*$/;

/** True for a key this store accepts: lowercase segments, no dot segments, no leading slash. */
export function isStorageKey(key: string): boolean {
  return key.length <= 300 && KEY_PATTERN.test(key) && !key.split("/").some((part) => part.startsWith("."));
}

/** `url` as an absolute URL: S3's stay as they are, the local driver's are resolved against `origin`. */
export function absoluteUrl(url: string, origin: string): string {
  return new URL(url, origin).toString();
}
