import { sql } from "kysely";
import WebSocket from "ws";
import type { Db } from "../../../apps/server/src/platform/db.ts";
import { createBenchDatabase } from "../bench-database.ts";
import {
  completeUpload,
  createApi,
  createCameraJpeg,
  measureRawThroughput,
  register,
  uploadBytes,
  type Api,
} from "../photo-flow.ts";
import { progress, type Scenario } from "../scenario.ts";
import { startTurnout } from "../turnout-server.ts";

/*
 * photos (issue 13): GUESTS guests (default 50) each upload PER_GUEST photos (default 4) at once through the
 * real flow (ask for an upload, PUT the bytes to the signed URL, complete) on one server running the api,
 * realtime and worker roles, files on the local disk. Camera-sized JPEGs (4000 x 3000, 3-5 MB) are made by
 * sharp first. Reported: uploads/s (all completes answered), the worker's photos/s once every upload is in
 * (the queue full, until the last is ready), sharp's raw photos/s doing the job's image work on the same
 * bytes in memory here before the server starts and after it stopped (each the best of 2 and 4 at a time; their
 * mean is the reference, as the load of a shared machine moves), the server's peak RSS, and
 * on the then idle server the time from `complete` to `photo.added.v1` on a subscribed WebSocket for
 * IDLE_PHOTOS photos one after another (p50/p95).
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const GUESTS = Number(process.env.BENCH_PHOTOS_GUESTS ?? 50);
const PER_GUEST = Number(process.env.BENCH_PHOTOS_PER_GUEST ?? 4);
const IDLE_PHOTOS = Number(process.env.BENCH_PHOTOS_IDLE ?? 20);
const MiB = 1024 * 1024;
// sharp's raw rate is taken on this many of the same photos (a rate: the whole burst would only take longer).
const RAW_PHOTOS = Number(process.env.BENCH_PHOTOS_RAW ?? 40);

const photos: Scenario = {
  async run() {
    progress(`photos: making ${PER_GUEST} camera-sized JPEGs`);
    const images = await Promise.all(Array.from({ length: PER_GUEST }, (_, seed) => createCameraJpeg(seed)));
    const sizesMiB = images.map((image) => image.length / MiB);
    progress(`photos: ${sizesMiB.map((size) => size.toFixed(2)).join(", ")} MiB`);
    if (sizesMiB.some((size) => size < 3 || size > 5)) throw new Error("the photos are not 3-5 MB");

    const sameWork = Array.from(
      { length: Math.min(RAW_PHOTOS, GUESTS * PER_GUEST) },
      (_, index) => images[index % images.length] ?? Buffer.alloc(0),
    );
    // Measured before and after the server's run: on a shared machine the load moves, and both are reported.
    progress("photos: sharp's raw throughput on the same photos (before)");
    const rawBefore = Math.max(
      await measureRawThroughput(sameWork, 2),
      await measureRawThroughput(sameWork, 4),
    );
    const database = await createBenchDatabase(ADMIN_URL, () => Promise.resolve());
    const server = await startTurnout(database.url, {
      ROLES: "api,realtime,worker",
      RATE_LIMIT_REQUESTS: "0",
      RATE_LIMIT_REGISTRATIONS: "0",
      REALTIME_CONNECTIONS_PER_MINUTE: "0",
    });
    const rss = watchResidentBytes(server.baseUrl);
    let burst: Burst;
    let idle: number[];
    try {
      const api = createApi(server.baseUrl);
      const organizer = await register(api, "organizer");
      const eventId = await createPublishedEvent(api, organizer);
      const guests: string[] = [];
      for (let i = 0; i < GUESTS; i += 5) {
        const batch = Array.from({ length: Math.min(5, GUESTS - i) }, (_, k) =>
          register(api, `guest${i + k}`),
        );
        guests.push(...(await Promise.all(batch)));
      }
      for (const guest of guests) await api.call(guest, "POST", `/api/events/${eventId}/join`);
      progress(`photos: ${GUESTS} guests joined; uploading ${GUESTS * PER_GUEST} photos at once`);
      burst = await uploadAtOnce(api, database.db, eventId, guests, images);
      progress(`photos: ${JSON.stringify(burst)}`);
      idle = await measureIdleLatency(api, guests[0] ?? organizer, eventId, images);
      progress(`photos: idle complete-to-wall ${idle.map((ms) => Math.round(ms)).join(", ")} ms`);
      await server.stop();
    } finally {
      rss.stop();
      await server.close();
      await database.drop();
    }
    progress("photos: sharp's raw throughput on the same photos (after)");
    const raw2 = await measureRawThroughput(sameWork, 2);
    const raw4 = await measureRawThroughput(sameWork, 4);
    const rawAfter = Math.max(raw2, raw4);
    const rawPerSec = (rawBefore + rawAfter) / 2;
    return {
      scenario: "photos",
      photos: GUESTS * PER_GUEST,
      photoMiB: Number((sizesMiB.reduce((a, b) => a + b, 0) / sizesMiB.length).toFixed(2)),
      uploadsPerSec: round(burst.uploadsPerSec),
      uploadSec: round(burst.uploadSec),
      workerPhotosPerSec: round(burst.workerPerSec),
      workerPhotosPerSecOverall: round(burst.overallPerSec),
      sharpRawPhotosPerSec: round(rawPerSec),
      sharpRawBeforePerSec: round(rawBefore),
      sharpRawAfter2PerSec: round(raw2),
      sharpRawAfter4PerSec: round(raw4),
      workerToRaw: round(burst.workerPerSec / rawPerSec),
      rejected: burst.rejected,
      peakRssMiB: Math.round(rss.peak() / MiB),
      idleP50Ms: Math.round(percentile(idle, 0.5)),
      idleP95Ms: Math.round(percentile(idle, 0.95)),
      idleMaxMs: Math.round(Math.max(...idle)),
    };
  },
};

export default photos;

interface Burst {
  uploadsPerSec: number;
  uploadSec: number;
  /** Photos/s from the moment every upload was complete (a full queue) until the last was ready. */
  workerPerSec: number;
  /** Photos/s from the first complete until the last was ready. */
  overallPerSec: number;
  rejected: number;
}

async function uploadAtOnce(
  api: Api,
  db: Db,
  eventId: string,
  guests: string[],
  images: Buffer[],
): Promise<Burst> {
  const total = guests.length * images.length;
  const startedAt = performance.now();
  let firstCompleteAt = Number.POSITIVE_INFINITY;
  await Promise.all(
    guests.flatMap((guest) =>
      images.map(async (image) => {
        const uploadId = await uploadBytes(api, guest, eventId, image);
        await completeUpload(api, guest, eventId, uploadId);
        firstCompleteAt = Math.min(firstCompleteAt, performance.now());
      }),
    ),
  );
  const uploadedAt = performance.now();
  const readyAtUpload = (await countPhotos(db, eventId)).done;
  const deadline = Date.now() + 600_000;
  for (;;) {
    const counts = await countPhotos(db, eventId);
    if (counts.done >= total) {
      const doneAt = performance.now();
      return {
        uploadsPerSec: total / ((uploadedAt - startedAt) / 1000),
        uploadSec: (uploadedAt - startedAt) / 1000,
        workerPerSec: (total - readyAtUpload) / ((doneAt - uploadedAt) / 1000),
        overallPerSec: total / ((doneAt - firstCompleteAt) / 1000),
        rejected: counts.rejected,
      };
    }
    if (Date.now() > deadline)
      throw new Error(`only ${counts.done} of ${total} photos processed in 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function countPhotos(db: Db, eventId: string) {
  const { rows } = await sql<{ done: number; rejected: number }>`
    SELECT count(*) FILTER (WHERE status <> 'processing')::int AS done,
           count(*) FILTER (WHERE status = 'rejected')::int AS rejected
    FROM photos WHERE event_id = ${eventId}
  `.execute(db);
  return rows[0] ?? { done: 0, rejected: 0 };
}

// One socket on the event's channel; each photo completed in turn, timed until its photo.added.v1 arrives.
async function measureIdleLatency(
  api: Api,
  token: string,
  eventId: string,
  images: Buffer[],
): Promise<number[]> {
  const socket = new WebSocket(`${api.baseUrl.replace("http", "ws")}/api/realtime?token=${token}`);
  const waiters = new Map<string, () => void>();
  // When each photo's message came: it may come before its waiter is set.
  const arrivedAt = new Map<string, number>();
  socket.on("message", (raw: Buffer) => {
    const frame = JSON.parse(raw.toString("utf8")) as {
      type: string;
      event?: { type: string; data: { photo?: { id: string } } };
    };
    if (frame.type === "subscribed") waiters.get("subscribed")?.();
    const photoId = frame.event?.type === "photo.added.v1" ? frame.event.data.photo?.id : undefined;
    if (photoId !== undefined) {
      arrivedAt.set(photoId, performance.now());
      waiters.get(photoId)?.();
    }
  });
  const arrival = (key: string) =>
    new Promise<void>((resolve, reject) => {
      if (arrivedAt.has(key)) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        reject(new Error(`no ${key} within 30 s`));
      }, 30_000);
      waiters.set(key, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  const subscribed = arrival("subscribed");
  socket.send(JSON.stringify({ type: "subscribe", channel: `event:${eventId}` }));
  await subscribed;
  const latencies: number[] = [];
  try {
    for (let i = 0; i < IDLE_PHOTOS; i++) {
      const uploadId = await uploadBytes(api, token, eventId, images[i % images.length] ?? Buffer.alloc(0));
      // Between photos the server is idle again, as a guest's next photo finds it.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const startedAt = performance.now();
      const photoId = await completeUpload(api, token, eventId, uploadId);
      await arrival(photoId);
      latencies.push((arrivedAt.get(photoId) ?? Number.NaN) - startedAt);
    }
  } finally {
    socket.close();
  }
  return latencies;
}

async function createPublishedEvent(api: Api, token: string): Promise<string> {
  const startsAt = new Date(Date.now() + 3_600_000);
  const created = (await api.call(token, "POST", "/api/events", {
    title: "Photo wall",
    startsAt: startsAt.toISOString(),
    endsAt: new Date(startsAt.getTime() + 7_200_000).toISOString(),
    timezone: "Europe/Berlin",
    venue: { name: "Hall", address: "Street 1" },
    category: "music",
    capacity: null,
  })) as { id: string };
  await api.call(token, "POST", `/api/events/${created.id}/publish`);
  return created.id;
}

// The server's resident memory from its /metrics, sampled every 200 ms.
function watchResidentBytes(baseUrl: string) {
  let peak = 0;
  const timer = setInterval(() => {
    fetch(`${baseUrl}/metrics`)
      .then((response) => response.text())
      .then((text) => {
        const line = text.split("\n").find((entry) => entry.startsWith("process_resident_memory_bytes "));
        peak = Math.max(peak, Number(line?.split(" ")[1] ?? 0));
      })
      .catch(() => undefined);
  }, 200);
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer);
    },
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
