import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import type { Event } from "@turnout/contracts";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { hostOf } from "../../../test/photos.support.ts";
import { createTestDataDir } from "../../../test/s3.ts";

// The organizer's archive of 200 photos (100 MiB), streamed over a real socket: every entry intact (unzip
// checks each CRC) while the server's memory grows by a small fraction of the archive's size.

const PHOTO_COUNT = 200;
const PHOTO_BYTES = 512 * 1024;
const run = promisify(execFile);

let dir: Awaited<ReturnType<typeof createTestDataDir>>;
let t: TestApp;
let organizer: CreatedUser;
let event: Event;
let workDir: string;

beforeAll(async () => {
  dir = await createTestDataDir();
  workDir = await mkdtemp(join(tmpdir(), "turnout-archive-"));
  t = await createTestApp({ env: dir.env });
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  organizer = await createUser(t);
  event = await createPublished(t, organizer);
  // Ready photos put in place directly: processing has its own tests, this one is about the archive.
  for (let index = 0; index < PHOTO_COUNT; index++) {
    const uploadId = uuidv7();
    const photoId = uuidv7();
    const fullKey = `photos/${event.id}/${photoId}-full.jpg`;
    await t.deps.storage.write(fullKey, randomBytes(PHOTO_BYTES), "image/jpeg");
    await t.deps.db
      .insertInto("photo_uploads")
      .values({
        id: uploadId,
        event_id: event.id,
        uploader_id: organizer.user.id,
        content_type: "image/jpeg",
        declared_size: PHOTO_BYTES,
        storage_key: `uploads/${uploadId}`,
        expires_at: new Date(),
      })
      .execute();
    await t.deps.db
      .insertInto("photos")
      .values({
        id: photoId,
        event_id: event.id,
        upload_id: uploadId,
        uploader_id: organizer.user.id,
        status: "ready",
        width: 100,
        height: 100,
        full_key: fullKey,
        thumb_key: fullKey,
        created_at: new Date(),
      })
      .execute();
  }
}, 120_000);

afterAll(async () => {
  await t.close();
  await dir.remove();
  await rm(workDir, { recursive: true, force: true });
});

it("streams every photo into a valid zip with bounded memory", async () => {
  const address = `http://${hostOf(t).host}/api/events/${event.id}/photos/archive`;
  // Garbage collected before every sample, so a sample counts what is alive, not what awaits collection
  // (which varies with the Node release: 30 MiB on Node 20, 70 MiB on Node 24).
  const collectGarbage = exposedGc();
  collectGarbage();
  const before = process.memoryUsage();
  let peakGrowth = 0;
  const sampler = setInterval(() => {
    collectGarbage();
    const now = process.memoryUsage();
    const growth = now.heapUsed + now.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    peakGrowth = Math.max(peakGrowth, growth);
  }, 250);

  const response = await fetch(address, { headers: bearer(organizer) });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/zip");
  const file = join(workDir, "photos.zip");
  if (response.body === null) throw new Error("no body");
  await pipeline(Readable.fromWeb(response.body), createWriteStream(file));
  clearInterval(sampler);

  const size = (await stat(file)).size;
  expect(size).toBeGreaterThan(PHOTO_COUNT * PHOTO_BYTES);
  const listing = await run("zipinfo", ["-1", file]);
  expect(listing.stdout.trim().split("\n")).toHaveLength(PHOTO_COUNT);
  const tested = await run("unzip", ["-tq", file]);
  expect(tested.stdout).toMatch(/No errors detected/);
  // The archive is 100 MiB; server and client share this process and hold a few chunks each at a time.
  console.log(`archive of ${size} bytes: live memory grew by ${peakGrowth} bytes at most`);
  expect(peakGrowth).toBeLessThan(40 * 1024 * 1024);
});

/**
 * V8's collector as a function, without starting Node with --expose-gc. It frees the memory of dead buffers
 * before it returns: by default a background thread does that after the collection, so a sample taken right
 * after it still counted up to 52 MiB of dead buffers on Node 24 while another test file loaded the cores.
 */
function exposedGc(): () => void {
  setFlagsFromString("--expose-gc");
  setFlagsFromString("--no-concurrent-array-buffer-sweeping");
  return runInNewContext("gc") as () => void;
}

it("is for the organizer and moderators only", async () => {
  const guest = await createUser(t);
  const refused = await t.app.inject({
    method: "GET",
    url: `/api/events/${event.id}/photos/archive`,
    headers: bearer(guest),
  });
  expect(refused.statusCode).toBe(403);
  const anonymous = await t.app.inject(`/api/events/${event.id}/photos/archive`);
  expect(anonymous.statusCode).toBe(401);
});
