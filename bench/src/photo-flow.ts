import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { photoSchema, photoUploadSchema } from "@turnout/contracts";
import sharp from "sharp";

// The photos scenario's pieces: camera-sized JPEGs made by sharp, the real upload flow over HTTP, and the
// reference work (what the processing job does to each photo, with nothing of the server around it).

/** A camera-sized JPEG (4000 x 3000, grain that compresses like a photo) of about 3-5 MB; `seed` varies it. */
export async function createCameraJpeg(seed: number): Promise<Buffer> {
  const grain = await sharp({
    create: {
      width: 1000,
      height: 750,
      channels: 3,
      background: { r: 0, g: 0, b: 0 },
      noise: { type: "gaussian", mean: 110 + seed * 10, sigma: 55 },
    },
  })
    .png()
    .toBuffer();
  return (
    sharp(grain)
      .resize(4000, 3000, { kernel: "cubic" })
      .modulate({ hue: seed * 70 })
      .jpeg({ quality: 86 })
      // Half of them lie on their side, as phone photos do, so the rotation is real work.
      .withMetadata({ orientation: seed % 2 === 0 ? 1 : 6 })
      .toBuffer()
  );
}

/**
 * The processing job's image work (photos module, photo-images.ts) on one photo, alone: the same calls in the
 * same order, reading the photo's file and writing both results to files, as the worker does with the local
 * storage; none of the server's work around it (HTTP, job queue, database, outbox, realtime).
 */
export async function renderLikeTheWorker(input: string, outputs: string): Promise<void> {
  const decoded = () => sharp(input, { failOn: "error", limitInputPixels: 100_000_000 }).rotate();
  await decoded().jpeg({ quality: 85 }).toFile(`${outputs}-full`);
  await decoded()
    .resize({ width: 480, height: 480, fit: "inside", withoutEnlargement: true })
    .jpeg({ quality: 78 })
    .toFile(`${outputs}-thumb`);
}

export interface RawThroughput {
  concurrency: number;
  photosPerSec: number;
  /** This process's CPU time (every thread's) per photo, in ms: the same on a loaded machine as on a quiet one. */
  cpuMsPerPhoto: number;
}

/**
 * Photos per second sharp reaches doing the job's work on `count` photos, taken in turn from the files
 * `inputs`, `concurrency` at a time, and the CPU time each took. libvips's cache is off, as in the worker
 * (stopImageCache): with it the same files read again could be answered from it.
 */
export async function measureRawThroughput(
  inputs: string[],
  count: number,
  concurrency: number,
): Promise<RawThroughput> {
  sharp.cache(false);
  const outputs = await mkdtemp(join(tmpdir(), "bench-photos-raw-"));
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let index = next++; index < count; index = next++) {
          const input = inputs[index % inputs.length];
          if (input !== undefined) await renderLikeTheWorker(input, join(outputs, String(index)));
        }
      }),
    );
  } finally {
    await rm(outputs, { recursive: true, force: true });
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    concurrency,
    photosPerSec: count / seconds,
    cpuMsPerPhoto: (cpu.user + cpu.system) / 1000 / count,
  };
}

export interface Api {
  baseUrl: string;
  /** Calls the API as `token`'s holder; the JSON body, or throws unless the status is `expected` (any 2xx if unset). */
  call(token: string, method: string, path: string, body?: object, expected?: number): Promise<unknown>;
}

export function createApi(baseUrl: string): Api {
  return {
    baseUrl,
    async call(token, method, path, body, expected) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (expected === undefined ? !response.ok : response.status !== expected)
        throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return response.status === 204 ? null : response.json();
    },
  };
}

/** Registers an account; its access token. */
export async function register(api: Api, name: string): Promise<string> {
  const response = await fetch(`${api.baseUrl}/api/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `${name}@bench.test`, name, password: "bench password 123" }),
  });
  if (response.status !== 201) throw new Error(`register: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

// The upload flow as API.md gives it and the photos int tests drive it (apps/server/test/photos.support.ts,
// which works through the test app's inject and so cannot serve a bench against a child process): the
// upload intent (201), the bytes sent as its answer says (method, URL, headers), then complete (202).

/** Asks for an upload and sends the bytes to its signed URL; the upload's id. */
export async function uploadBytes(api: Api, token: string, eventId: string, bytes: Buffer): Promise<string> {
  const body = { contentType: "image/jpeg", size: bytes.length };
  const upload = photoUploadSchema.parse(
    await api.call(token, "POST", `/api/events/${eventId}/photos/uploads`, body, 201),
  );
  const sent = await fetch(upload.url, { method: upload.method, headers: upload.headers, body: bytes });
  const answer = await sent.text();
  if (sent.status !== 200) throw new Error(`${upload.method} upload: ${sent.status} ${answer}`);
  return upload.uploadId;
}

/** Completes an upload (202, the photo in processing); the photo's id. */
export async function completeUpload(
  api: Api,
  token: string,
  eventId: string,
  uploadId: string,
): Promise<string> {
  const path = `/api/events/${eventId}/photos/uploads/${uploadId}/complete`;
  return photoSchema.parse(await api.call(token, "POST", path, undefined, 202)).id;
}
