import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError } from "../errors.ts";
import { isStorageKey, type Storage } from "./storage.ts";

/*
 * The S3 driver: any S3-compatible store (AWS, MinIO, Ceph, R2...). Clients PUT and GET through presigned
 * URLs; the content type and length are signed into the upload URL, so the store itself refuses other
 * types and any byte past the declared size.
 */

export interface S3StorageOptions {
  /** e.g. http://minio:9000; unset for AWS itself. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`), which MinIO and most self-hosted stores need. */
  forcePathStyle: boolean;
  /** The signing clock; presigned URLs are dated by it. */
  now: () => Date;
}

/** A Storage in an S3 bucket. */
export function createS3Storage(options: S3StorageOptions): Storage {
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    // Checksums the SDK would add by default are not signed into a browser's PUT and older stores reject them.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const Bucket = options.bucket;
  const checked = (key: string) => {
    if (!isStorageKey(key)) throw new AppError("internal", `Not a storage key: ${JSON.stringify(key)}.`);
    return key;
  };
  const secondsUntil = (at: Date) => Math.max(1, Math.round((at.getTime() - options.now().getTime()) / 1000));

  async function openObject(key: string): Promise<Readable> {
    const object = await client.send(new GetObjectCommand({ Bucket, Key: checked(key) }));
    if (!(object.Body instanceof Readable)) throw new AppError("internal", "S3 returned no body stream.");
    return object.Body;
  }

  return {
    driver: "s3",
    async signUpload(key, terms) {
      const command = new PutObjectCommand({
        Bucket,
        Key: checked(key),
        ContentType: terms.contentType,
        ContentLength: terms.size,
      });
      const url = await getSignedUrl(client, command, {
        expiresIn: secondsUntil(terms.expiresAt),
        signingDate: options.now(),
        signableHeaders: new Set(["content-type", "content-length"]),
      });
      return { url, headers: { "content-type": terms.contentType } };
    },
    signDownload(key, expiresAt) {
      return getSignedUrl(client, new GetObjectCommand({ Bucket, Key: checked(key) }), {
        expiresIn: secondsUntil(expiresAt),
        signingDate: options.now(),
      });
    },
    async stat(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: checked(key) }));
        return { size: head.ContentLength ?? 0 };
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
    },
    read: openObject,
    readViaFile(key, use) {
      return withTemporaryFile(async (path) => {
        await pipeline(await openObject(key), createWriteStream(path));
        return use(path);
      });
    },
    writeViaFile(key, contentType, produce) {
      return withTemporaryFile(async (path) => {
        const result = await produce(path);
        const { size } = await stat(path);
        const body = createReadStream(path);
        try {
          await client.send(
            new PutObjectCommand({
              Bucket,
              Key: checked(key),
              Body: body,
              ContentLength: size,
              ContentType: contentType,
            }),
          );
        } finally {
          body.destroy();
        }
        return result;
      });
    },
    async write(key, body, contentType) {
      await client.send(
        new PutObjectCommand({ Bucket, Key: checked(key), Body: body, ContentType: contentType }),
      );
    },
    async delete(keys) {
      if (keys.length === 0) return;
      await client.send(
        new DeleteObjectsCommand({
          Bucket,
          Delete: { Objects: keys.map((key) => ({ Key: checked(key) })), Quiet: true },
        }),
      );
    },
    // Clients talk to the store directly: the app serves nothing.
    registerRoutes: () => Promise.resolve(),
    close() {
      client.destroy();
    },
  };
}

// A file of the machine's temporary directory for the length of `use`, removed after (with its directory).
async function withTemporaryFile<T>(use: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "turnout-object-"));
  try {
    return await use(join(dir, "object"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof NotFound ||
    (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)
  );
}
