import { sql } from "kysely";
import { BENCH_NATS_URL, deleteStreams } from "../bench-nats.ts";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
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
  type RawThroughput,
} from "../photo-flow.ts";
import { processPeakRssMiB } from "../process-stats.ts";
import { progress, type Scenario } from "../scenario.ts";
import { createDataDir } from "../../../e2e/support/server-process.ts";
import { startTurnout } from "../turnout-server.ts";

/*
 * photos (issue 13): GUESTS guests (default 50) each upload PER_GUEST photos (default 4) at once through the
 * real flow (ask for an upload, PUT the bytes to the signed URL, complete) on one server running the api,
 * realtime and worker roles, files on the local disk. Camera-sized JPEGs (4000 x 3000, 3-5 MB) are made by
 * sharp first. Reported: uploads/s (all completes answered), the worker's photos/s once every upload is in
 * (the queue full, until the last is ready), sharp's raw photos/s doing the job's image work on the same
 * photos (the job's sharp calls in its order, from the photo's file to files, nothing of the server around
 * them) here before the server starts and after it stopped (each the better of 2 and 3 — the worker's number —
 * at a time; their mean is the reference, as the load of a shared machine moves), the CPU time per photo on
 * both sides and their ratio (the server's from /proc while the queue drained; a figure the machine's load
 * moves far less), the server's peak RSS (VmHWM), and on the then idle server the time from `complete` to
 * `photo.added.v1` on a subscribed WebSocket for IDLE_PHOTOS photos one after another (p50/p95); then the same
 * idle measure with the worker role in a process of its own (api+realtime in another, NATS between them;
 * BENCH_NATS_URL). The machine's load average at the start and the end is printed beside the figures.
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const GUESTS = Number(process.env.BENCH_PHOTOS_GUESTS ?? 50);
const PER_GUEST = Number(process.env.BENCH_PHOTOS_PER_GUEST ?? 4);
const IDLE_PHOTOS = Number(process.env.BENCH_PHOTOS_IDLE ?? 20);
const MiB = 1024 * 1024;
// Linux reports /proc times in USER_HZ, 100 on every architecture Node runs on.
const CLOCK_TICKS_PER_SECOND = 100;
// Photos at a time in the worker role (PHOTO_PROCESSING_CONCURRENCY, roles/worker.ts).
const WORKER_CONCURRENCY = 3;
// sharp's raw rate is taken on this many of the same photos (a rate: the whole burst would only take longer).
const RAW_PHOTOS = Number(process.env.BENCH_PHOTOS_RAW ?? 40);
// With BENCH_CPU_PROFILE_DIR, the server's main thread is profiled while the queue drains (cpu-profile.preload.ts).
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR;
const PROFILE_PRELOAD = join(import.meta.dirname, "../cpu-profile.preload.ts");

const photos: Scenario = {
  async run() {
    progress(`photos: making ${PER_GUEST} camera-sized JPEGs`);
    const images = await Promise.all(Array.from({ length: PER_GUEST }, (_, seed) => createCameraJpeg(seed)));
    const sizesMiB = images.map((image) => image.length / MiB);
    progress(`photos: ${sizesMiB.map((size) => size.toFixed(2)).join(", ")} MiB`);
    if (sizesMiB.some((size) => size < 3 || size > 5)) throw new Error("the photos are not 3-5 MB");

    const loadAtStart = loadavg()[0] ?? Number.NaN;
    // The reference reads the photos from files and writes its results to files, as the worker does.
    const imageDir = await mkdtemp(join(tmpdir(), "bench-photos-"));
    const imageFiles = await Promise.all(
      images.map(async (image, index) => {
        const path = join(imageDir, `${index}.jpg`);
        await writeFile(path, image);
        return path;
      }),
    );
    const rawCount = Math.min(RAW_PHOTOS, GUESTS * PER_GUEST);
    // One photo per core (libvips works each on one thread: sharp's concurrency is 1 on glibc without jemalloc),
    // and as many at a time as the worker takes; the better rate is the reference.
    const measureRaw = async () => [
      await measureRawThroughput(imageFiles, rawCount, 2),
      await measureRawThroughput(imageFiles, rawCount, WORKER_CONCURRENCY),
    ];
    // Measured before and after the server's run: on a shared machine the load moves, and both are reported.
    progress("photos: sharp's raw throughput on the same photos (before)");
    const rawBefore = await measureRaw();
    const database = await createBenchDatabase(ADMIN_URL, () => Promise.resolve());
    const server = await startTurnout(database.url, {
      ROLES: "api,realtime,worker",
      RATE_LIMIT_REQUESTS: "0",
      RATE_LIMIT_REGISTRATIONS: "0",
      REALTIME_CONNECTIONS_PER_MINUTE: "0",
      ...(PROFILE_DIR === undefined ? {} : { NODE_OPTIONS: `--import tsx --import ${PROFILE_PRELOAD}` }),
    });
    const toggleProfile = () => {
      if (PROFILE_DIR !== undefined) process.kill(server.pid, "SIGUSR2");
    };
    const watched = watchServer(server.pid);
    let burst: Burst;
    let idle: number[];
    let peakRssMiB: number;
    let split: number[];
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
      burst = await uploadAtOnce(api, database.db, eventId, guests, images, watched, toggleProfile);
      progress(`photos: ${JSON.stringify(burst)}`);
      idle = await measureIdleLatency(api, guests[0] ?? organizer, eventId, images);
      progress(`photos: idle complete-to-wall ${idle.map((ms) => Math.round(ms)).join(", ")} ms`);
      peakRssMiB = processPeakRssMiB(server.pid);
      await server.stop();
      split = await measureIdleLatencyAcrossProcesses(database.url, guests[0] ?? organizer, eventId, images);
    } finally {
      await server.close();
      await database.drop();
    }
    progress("photos: sharp's raw throughput on the same photos (after)");
    const rawAfter = await measureRaw();
    await rm(imageDir, { recursive: true, force: true });
    const bestRate = (runs: RawThroughput[]) => Math.max(...runs.map((run) => run.photosPerSec));
    const rawPerSec = (bestRate(rawBefore) + bestRate(rawAfter)) / 2;
    const rawRuns = [...rawBefore, ...rawAfter];
    const rawCpuMsPerPhoto = rawRuns.reduce((sum, run) => sum + run.cpuMsPerPhoto, 0) / rawRuns.length;
    return {
      scenario: "photos",
      photos: GUESTS * PER_GUEST,
      photoMiB: Number((sizesMiB.reduce((a, b) => a + b, 0) / sizesMiB.length).toFixed(2)),
      uploadsPerSec: round(burst.uploadsPerSec),
      uploadSec: round(burst.uploadSec),
      workerPhotosPerSec: round(burst.workerPerSec),
      workerPhotosPerSecOverall: round(burst.overallPerSec),
      sharpRawPhotosPerSec: round(rawPerSec),
      sharpRawBeforePerSec: round(bestRate(rawBefore)),
      // Each raw run, before and after: "<photos at a time>: <photos/s>/s <CPU ms per photo> ms".
      sharpRawRuns: rawRuns
        .map((run) => `${run.concurrency}: ${round(run.photosPerSec)}/s ${Math.round(run.cpuMsPerPhoto)} ms`)
        .join(", "),
      workerToRaw: round(burst.workerPerSec / rawPerSec),
      // Load-independent: CPU time per photo, the server's (every thread, while the queue drained) and sharp's.
      workerCpuMsPerPhoto: Math.round(burst.workerCpuMsPerPhoto),
      sharpRawCpuMsPerPhoto: Math.round(rawCpuMsPerPhoto),
      workerToRawCpu: round(rawCpuMsPerPhoto / burst.workerCpuMsPerPhoto),
      workerMainThreadCpuMsPerPhoto: Math.round(burst.workerMainThreadCpuMsPerPhoto),
      // How many of the 2 cores the server kept busy while the queue drained.
      workerCoresBusy: round(burst.workerCoresBusy),
      rejected: burst.rejected,
      peakRssMiB,
      idleP50Ms: Math.round(percentile(idle, 0.5)),
      idleP95Ms: Math.round(percentile(idle, 0.95)),
      idleMaxMs: Math.round(Math.max(...idle)),
      // The same with the worker role in a process of its own (api+realtime in another, NATS between them).
      splitIdleP50Ms: Math.round(percentile(split, 0.5)),
      splitIdleP95Ms: Math.round(percentile(split, 0.95)),
      splitIdleMaxMs: Math.round(Math.max(...split)),
      // The machine's 1-minute load average when the scenario began and ended (a shared machine's is not 0).
      loadAtStart: round(loadAtStart),
      loadAtEnd: round(loadavg()[0] ?? Number.NaN),
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
  /** The server's CPU time per photo while the queue drained, in ms. */
  workerCpuMsPerPhoto: number;
  /** The part of it on the server's main thread (JavaScript; the rest is libvips, file I/O, GC helpers). */
  workerMainThreadCpuMsPerPhoto: number;
  /** The server's CPU seconds per second while the queue drained. */
  workerCoresBusy: number;
  rejected: number;
}

async function uploadAtOnce(
  api: Api,
  db: Db,
  eventId: string,
  guests: string[],
  images: Buffer[],
  watched: WatchedServer,
  toggleProfile: () => void,
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
  toggleProfile();
  const cpuAtUpload = watched.cpuSeconds();
  const mainCpuAtUpload = watched.mainThreadCpuSeconds();
  const readyAtUpload = (await countPhotos(db, eventId)).done;
  const deadline = Date.now() + 600_000;
  for (;;) {
    const counts = await countPhotos(db, eventId);
    if (counts.done >= total) {
      const doneAt = performance.now();
      toggleProfile();
      const workerCpuSeconds = watched.cpuSeconds() - cpuAtUpload;
      const mainCpuSeconds = watched.mainThreadCpuSeconds() - mainCpuAtUpload;
      return {
        uploadsPerSec: total / ((uploadedAt - startedAt) / 1000),
        uploadSec: (uploadedAt - startedAt) / 1000,
        workerPerSec: (total - readyAtUpload) / ((doneAt - uploadedAt) / 1000),
        overallPerSec: total / ((doneAt - firstCompleteAt) / 1000),
        workerCpuMsPerPhoto: (workerCpuSeconds * 1000) / (total - readyAtUpload),
        workerMainThreadCpuMsPerPhoto: (mainCpuSeconds * 1000) / (total - readyAtUpload),
        workerCoresBusy: workerCpuSeconds / ((doneAt - uploadedAt) / 1000),
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

/*
 * The idle complete-to-wall time when the worker role runs in a process of its own, as in a cluster: the api
 * process queues the photo's job, the worker process must hear of it (the job queue's NOTIFY) and relays
 * photo.added.v1 over NATS to the realtime role in the api process. Same database and event as the main run.
 */
async function measureIdleLatencyAcrossProcesses(
  databaseUrl: string,
  token: string,
  eventId: string,
  images: Buffer[],
): Promise<number[]> {
  const tag = randomBytes(6).toString("hex");
  // One files directory for both: the api process stores the upload, the worker process reads it.
  const dataDir = await createDataDir("bench-photos-split");
  const env = {
    DATA_DIR: dataDir,
    NATS_URL: BENCH_NATS_URL,
    DOMAIN_STREAM: `PHOTOS${tag}`,
    DOMAIN_SUBJECT_PREFIX: `photos_domain_${tag}`,
    INTERACTIONS_STREAM: `photos-interactions-${tag}`,
    REALTIME_SUBJECT_PREFIX: `photos_${tag}`,
    RATE_LIMIT_REQUESTS: "0",
    REALTIME_CONNECTIONS_PER_MINUTE: "0",
  };
  const worker = await startTurnout(databaseUrl, { ...env, ROLES: "worker" });
  try {
    const api = await startTurnout(databaseUrl, { ...env, ROLES: "api,realtime" });
    try {
      progress("photos: worker in a process of its own; idle complete-to-wall again");
      const latencies = await measureIdleLatency(createApi(api.baseUrl), token, eventId, images);
      progress(`photos: split idle complete-to-wall ${latencies.map((ms) => Math.round(ms)).join(", ")} ms`);
      await api.stop();
      await worker.stop();
      return latencies;
    } finally {
      await api.close();
    }
  } finally {
    await worker.close();
    await deleteStreams([env.DOMAIN_STREAM, env.INTERACTIONS_STREAM]);
    await rm(dataDir, { recursive: true, force: true });
  }
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

interface WatchedServer {
  /** The server's CPU seconds (user and system, every thread) so far. */
  cpuSeconds(): number;
  /** The CPU seconds of the server's main thread alone (JavaScript and the collector's own share). */
  mainThreadCpuSeconds(): number;
}

// Read from /proc/<pid>, not from the server's /metrics: scraping that every 200 ms cost the server about 5%
// of a core (prom-client's process metrics) that the raw reference does not pay.
function watchServer(pid: number): WatchedServer {
  return {
    cpuSeconds: () => readCpuSeconds(`/proc/${pid}/stat`),
    mainThreadCpuSeconds: () => readCpuSeconds(`/proc/${pid}/task/${pid}/stat`),
  };
}

// utime and stime of a process or thread: the 12th and 13th fields after the command's closing parenthesis,
// in clock ticks.
function readCpuSeconds(statPath: string): number {
  const stat = readFileSync(statPath, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
