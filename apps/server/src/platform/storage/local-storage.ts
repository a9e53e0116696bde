import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, link, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../errors.ts";
import { isStorageKey, type SignedUpload, type Storage, type UploadTerms } from "./storage.ts";

/*
 * The local driver: objects are files under `<DATA_DIR>/files`, reached through `/api/files/<key>` with a
 * signature in the query (HMAC-SHA256 with URL_SIGNING_SECRET over the operation, key, terms and expiry). The
 * routes are hidden from the OpenAPI document: they are URLs the API hands out, not API routes.
 */

export const FILES_PREFIX = "/api/files/";
const READ_CHUNK_BYTES = 1024 * 1024;

export interface LocalStorageOptions {
  /** The directory objects live in (DATA_DIR/files). */
  root: string;
  signingSecret: string;
  /** Time source for checking expiry. */
  now: () => Date;
}

interface Grant {
  op: "put" | "get";
  key: string;
  contentType: string;
  size: number;
  expires: number;
}

/** A Storage on the local disk, with the routes that serve its signed URLs. */
export function createLocalStorage(options: LocalStorageOptions): Storage {
  const pathOf = (key: string) => {
    if (!isStorageKey(key)) throw new AppError("internal", `Not a storage key: ${JSON.stringify(key)}.`);
    return join(options.root, key);
  };
  const sign = (grant: Grant) =>
    createHmac("sha256", options.signingSecret)
      .update([grant.op, grant.key, grant.contentType, grant.size, grant.expires].join("\n"))
      .digest("base64url");
  const signedUrl = (grant: Grant) => {
    const query = new URLSearchParams({
      type: grant.contentType,
      size: String(grant.size),
      expires: String(grant.expires),
      sig: sign(grant),
    });
    return `${FILES_PREFIX}${grant.key}?${query.toString()}`;
  };

  /** The grant a request's URL carries, when its signature holds and it has not expired. */
  function verify(request: FastifyRequest, op: Grant["op"]): Grant {
    const url = new URL(request.url, "http://local");
    const key = decodeURIComponent(url.pathname.slice(FILES_PREFIX.length));
    const query = url.searchParams;
    const grant: Grant = {
      op,
      key,
      contentType: query.get("type") ?? "",
      size: Number(query.get("size")),
      expires: Number(query.get("expires")),
    };
    const given = Buffer.from(query.get("sig") ?? "");
    const expected = Buffer.from(sign(grant));
    const isSigned = given.length === expected.length && timingSafeEqual(given, expected);
    if (!isSigned || !isStorageKey(key)) throw new AppError("auth.forbidden", "The link is not valid.");
    if (grant.expires * 1000 <= options.now().getTime()) {
      throw new AppError("auth.forbidden", "The link has expired.");
    }
    return grant;
  }

  // A fresh path beside the objects (the same file system, so a link or rename into place works), for a file
  // that is not an object (yet).
  async function reserveAside(): Promise<string> {
    const aside = join(options.root, ".partial", randomUUID());
    await mkdir(dirname(aside), { recursive: true });
    return aside;
  }

  async function receive(request: FastifyRequest, reply: FastifyReply) {
    const grant = verify(request, "put");
    const contentType = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
    if (contentType !== grant.contentType) {
      throw new AppError("auth.forbidden", `The link accepts ${grant.contentType} only.`);
    }
    const declared = request.headers["content-length"];
    if (declared !== undefined && Number(declared) > grant.size) {
      throw new AppError("request.too_large", `The link accepts ${grant.size} bytes.`);
    }
    const target = pathOf(grant.key);
    const partial = await reserveAside();
    let received = 0;
    // Counted as they arrive: a chunked body past the declared size is cut off at that point.
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        if (received > grant.size)
          done(new AppError("request.too_large", `The link accepts ${grant.size} bytes.`));
        else done(null, chunk);
      },
    });
    try {
      // Fastify hands an empty body to no parser: nothing arrived.
      const body = request.body instanceof Readable ? request.body : Readable.from([]);
      await pipeline(body, limit, createWriteStream(partial));
      if (received !== grant.size) {
        throw new AppError("request.malformed", `Expected ${grant.size} bytes, received ${received}.`);
      }
      await mkdir(dirname(target), { recursive: true });
      await rename(partial, target);
    } finally {
      await rm(partial, { force: true });
    }
    return reply.code(200).send({ size: received });
  }

  async function serve(request: FastifyRequest, reply: FastifyReply) {
    const grant = verify(request, "get");
    const path = pathOf(grant.key);
    const found = await stat(path).catch(() => null);
    if (found === null || !found.isFile()) throw new AppError("route.not_found", "No such file.");
    const maxAge = Math.max(0, grant.expires - Math.floor(options.now().getTime() / 1000));
    return reply
      .type(grant.contentType || "application/octet-stream")
      .header("content-length", String(found.size))
      .header("cache-control", `private, max-age=${maxAge}`)
      .header("x-content-type-options", "nosniff")
      .send(createReadStream(path));
  }

  return {
    driver: "local",
    signUpload(key: string, terms: UploadTerms): Promise<SignedUpload> {
      const expires = Math.floor(terms.expiresAt.getTime() / 1000);
      const url = signedUrl({ op: "put", key, contentType: terms.contentType, size: terms.size, expires });
      return Promise.resolve({ url, headers: { "content-type": terms.contentType } });
    },
    signDownload(key: string, expiresAt: Date): Promise<string> {
      const expires = Math.floor(expiresAt.getTime() / 1000);
      return Promise.resolve(
        signedUrl({ op: "get", key, contentType: contentTypeOf(key), size: 0, expires }),
      );
    },
    async stat(key) {
      const found = await stat(pathOf(key)).catch(() => null);
      return found?.isFile() === true ? { size: found.size } : null;
    },
    read(key) {
      // Each chunk is one trip through libuv's thread pool, which sharp's encodes hold for their whole run:
      // 1 MiB chunks read a camera photo in 5 trips instead of 70.
      const stream = createReadStream(pathOf(key), { highWaterMark: READ_CHUNK_BYTES });
      // Opening errors (a missing file) surface here rather than on the first read.
      return new Promise((resolve, reject) => {
        stream.once("open", () => {
          resolve(stream);
        });
        stream.once("error", reject);
      });
    },
    async write(key, body) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const partial = `${path}.${randomUUID()}.partial`;
      await writeFile(partial, body);
      await rename(partial, path);
    },
    async readViaFile(key, use) {
      const snapshot = await reserveAside();
      try {
        await snapshotOf(pathOf(key), snapshot);
        return await use(snapshot);
      } finally {
        await rm(snapshot, { force: true });
      }
    },
    async writeViaFile(key, _contentType, produce) {
      const path = pathOf(key);
      const partial = await reserveAside();
      try {
        const result = await produce(partial);
        await mkdir(dirname(path), { recursive: true });
        await rename(partial, path);
        return result;
      } finally {
        await rm(partial, { force: true });
      }
    },
    async delete(keys) {
      await Promise.all(keys.map((key) => rm(pathOf(key), { force: true })));
    },
    // Serves the signed URLs: `PUT` and `GET /api/files/*`.
    async registerRoutes(app) {
      // Encapsulated: only these routes take raw bodies of any type, streamed rather than buffered.
      await app.register((files, _opts, done) => {
        files.removeAllContentTypeParsers();
        files.addContentTypeParser("*", (_request, payload, parsed) => {
          parsed(null, payload);
        });
        const schema = { hide: true };
        files.put(`${FILES_PREFIX}*`, { schema }, receive);
        files.get(`${FILES_PREFIX}*`, { schema }, serve);
        done();
      });
    },
    close() {},
  };
}

// The object's bytes as they are now, under `snapshot`: a hard link (no copy; a later PUT renames a new file
// over the key and leaves this one as it was), or a copy where the file system has no hard links.
async function snapshotOf(path: string, snapshot: string): Promise<void> {
  try {
    await link(path, snapshot);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw error;
    await copyFile(path, snapshot);
  }
}

const CONTENT_TYPES: Record<string, string> = {
  jpg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  zip: "application/zip",
};

function contentTypeOf(key: string): string {
  return CONTENT_TYPES[key.split(".").pop() ?? ""] ?? "application/octet-stream";
}
