import sharp from "sharp";

// The photos scenario's pieces: camera-sized JPEGs made by sharp, the real upload flow over HTTP, and the
// reference work (what the processing job does to each photo, on bytes already in memory).

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

/** The processing job's image work (photos module, photo-images.ts) on bytes in memory: the reference. */
export async function renderLikeTheWorker(bytes: Buffer): Promise<number> {
  const upright = sharp(bytes, { failOn: "error", limitInputPixels: 100_000_000 }).rotate();
  const [full, thumb] = await Promise.all([
    upright.clone().jpeg({ quality: 85 }).toBuffer(),
    upright
      .clone()
      .resize({ width: 480, height: 480, fit: "inside", withoutEnlargement: true })
      .jpeg({ quality: 78 })
      .toBuffer(),
  ]);
  return full.length + thumb.length;
}

export interface RawThroughput {
  photosPerSec: number;
  /** This process's CPU time (every thread's) per photo, in ms: the same on a loaded machine as on a quiet one. */
  cpuMsPerPhoto: number;
}

/** Photos per second sharp reaches on `images`, `concurrency` at a time, and the CPU time each took. */
export async function measureRawThroughput(images: Buffer[], concurrency: number): Promise<RawThroughput> {
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let index = next++; index < images.length; index = next++) {
        const image = images[index];
        if (image !== undefined) await renderLikeTheWorker(image);
      }
    }),
  );
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    photosPerSec: images.length / seconds,
    cpuMsPerPhoto: (cpu.user + cpu.system) / 1000 / images.length,
  };
}

export interface Api {
  baseUrl: string;
  call(token: string, method: string, path: string, body?: object): Promise<unknown>;
}

export function createApi(baseUrl: string): Api {
  return {
    baseUrl,
    async call(token, method, path, body) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
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

/** Asks for an upload and PUTs the bytes to its signed URL; the upload's id. */
export async function uploadBytes(api: Api, token: string, eventId: string, bytes: Buffer): Promise<string> {
  const upload = (await api.call(token, "POST", `/api/events/${eventId}/photos/uploads`, {
    contentType: "image/jpeg",
    size: bytes.length,
  })) as { uploadId: string; url: string; headers: Record<string, string> };
  const put = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: bytes });
  if (!put.ok) throw new Error(`PUT upload: ${put.status} ${await put.text()}`);
  return upload.uploadId;
}

/** Completes an upload; the photo's id. */
export async function completeUpload(api: Api, token: string, eventId: string, uploadId: string) {
  const photo = (await api.call(
    token,
    "POST",
    `/api/events/${eventId}/photos/uploads/${uploadId}/complete`,
  )) as {
    id: string;
  };
  return photo.id;
}
