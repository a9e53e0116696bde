import { errorBodySchema, photoPageSchema, photoSchema, type Event } from "@turnout/contracts";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { outboxOf, createDraft, createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import {
  complete,
  createGpsJpeg,
  eventually,
  hasGpsDirectory,
  putBytes,
  requestUpload,
  uploadPhoto,
  waitForProcessed,
} from "../../../test/photos.support.ts";
import { createTestDataDir, startTestS3 } from "../../../test/s3.ts";
import { createManualClock } from "../../platform/clock.ts";
import { photosOptionsOf } from "../../roles/module-options.ts";
import { startPhotoJobs } from "./index.ts";

// The photo flow of API.md end to end, over a real socket, with the real job queue processing the bytes:
// once with files on the local disk behind the app's signed URLs, once in a real S3-compatible server.

interface Peer {
  env: Record<string, string>;
  close(): Promise<void>;
}

const drivers: { name: string; start: () => Promise<Peer> }[] = [
  {
    name: "local",
    start: async () => {
      const dir = await createTestDataDir();
      return { env: dir.env, close: () => dir.remove() };
    },
  },
  { name: "s3", start: startTestS3 },
];

describe.each(drivers)("photos on $name storage", ({ start }) => {
  const clock = createManualClock(new Date());
  let peer: Peer;
  let t: TestApp;
  let organizer: CreatedUser;
  let guest: CreatedUser;
  let event: Event;

  beforeAll(async () => {
    peer = await start();
    t = await createTestApp({ env: peer.env, deps: { clock } });
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    startPhotoJobs(photosOptionsOf(t.deps), { concurrency: 2 });
    organizer = await createUser(t);
    guest = await createUser(t);
    event = await createPublished(t, organizer);
    await join(guest, event.id);
  });
  afterAll(async () => {
    await t.close();
    await peer.close();
  });

  async function join(who: CreatedUser, eventId: string) {
    const response = await t.app.inject({
      method: "POST",
      url: `/api/events/${eventId}/join`,
      headers: bearer(who),
    });
    expect(response.statusCode).toBe(201);
  }

  const codeOf = (body: string) => errorBodySchema.parse(JSON.parse(body)).error.code;

  it("takes a JPEG with GPS tags and serves it upright, re-encoded, without any metadata", async () => {
    const original = await createGpsJpeg(64, 32);
    const originalMeta = await sharp(original).metadata();
    expect(originalMeta.orientation).toBe(6);
    expect(hasGpsDirectory(originalMeta.exif)).toBe(true);

    const upload = await requestUpload(t, guest, event.id, {
      contentType: "image/jpeg",
      size: original.length,
      filename: "IMG_0001.jpg",
    });
    expect(upload.method).toBe("PUT");
    expect(new URL(upload.url).protocol).toMatch(/^http/);
    expect(Date.parse(upload.expiresAt) - clock.now().getTime()).toBe(15 * 60 * 1000);

    const early = await complete(t, guest, event.id, upload.uploadId);
    expect(early.statusCode).toBe(400);
    expect(codeOf(early.body)).toBe("upload.missing");

    expect(await putBytes(upload, original)).toBe(200);
    const someoneElse = await createUser(t);
    const foreign = await complete(t, someoneElse, event.id, upload.uploadId);
    expect(foreign.statusCode).toBe(403);

    const first = await complete(t, guest, event.id, upload.uploadId);
    expect(first.statusCode).toBe(202);
    const photo = photoSchema.parse(first.json());
    expect(photo).toMatchObject({ status: "processing", urls: null, uploader: { id: guest.user.id } });
    const again = await complete(t, guest, event.id, upload.uploadId);
    expect([200]).toContain(again.statusCode);
    expect(photoSchema.parse(again.json()).id).toBe(photo.id);

    const ready = await waitForProcessed(t, guest, event.id, photo.id);
    expect(ready).toMatchObject({ status: "ready", width: 32, height: 64 });
    const afterReady = await complete(t, guest, event.id, upload.uploadId);
    expect(afterReady.statusCode).toBe(200);
    expect(photoSchema.parse(afterReady.json()).status).toBe("ready");

    const full = Buffer.from(await (await fetch(ready.urls?.full ?? "")).arrayBuffer());
    const fullMeta = await sharp(full).metadata();
    expect(fullMeta).toMatchObject({ format: "jpeg", width: 32, height: 64 });
    expect(fullMeta.exif).toBeUndefined();
    expect(fullMeta.xmp).toBeUndefined();
    expect(fullMeta.iptc).toBeUndefined();
    expect(fullMeta.orientation).toBeUndefined();
    expect(full.includes(Buffer.from("TestCam"))).toBe(false);
    const thumb = await sharp(
      Buffer.from(await (await fetch(ready.urls?.thumb ?? "")).arrayBuffer()),
    ).metadata();
    expect(thumb.exif).toBeUndefined();
    expect(Math.max(thumb.width, thumb.height)).toBeLessThanOrEqual(480);

    const added = (await outboxOf(t, event.id)).filter((row) => row.type === "photo.added.v1");
    expect(added).toHaveLength(1);
    expect(added[0]?.payload).toMatchObject({
      photo: { id: photo.id, status: "ready", width: 32, height: 64 },
    });
    // The original, GPS and all, is deleted once the photo is ready.
    await eventually(async () => (await t.deps.storage.stat(`uploads/${upload.uploadId}`)) === null);
  });

  it("rejects a text file renamed to .jpg, and never shows it on the wall", async () => {
    const text = Buffer.from("this is not a photo at all, just words pretending\n".repeat(20));
    const photo = await uploadPhoto(t, guest, event.id, text, "image/jpeg");
    const processed = await waitForProcessed(t, guest, event.id, photo.id);
    expect(processed).toMatchObject({ status: "rejected", urls: null, width: null });
    const wall = photoPageSchema.parse((await t.app.inject(`/api/events/${event.id}/photos`)).json());
    expect(wall.items.map((item) => item.id)).not.toContain(photo.id);
    const added = (await outboxOf(t, event.id)).filter((row) => row.type === "photo.added.v1");
    expect(added.map((row) => (row.payload as { photo: { id: string } }).photo.id)).not.toContain(photo.id);
    // Only its uploader and the organizer see a rejected photo.
    const anonymous = await t.app.inject(`/api/events/${event.id}/photos/${photo.id}`);
    expect(anonymous.statusCode).toBe(404);
  });

  it("rejects a JPEG cut off halfway (it does not decode), keeping none of its files", async () => {
    const whole = await sharp({
      create: {
        width: 300,
        height: 200,
        channels: 3,
        background: { r: 200, g: 40, b: 90 },
        noise: { type: "gaussian", mean: 128, sigma: 60 },
      },
    })
      .jpeg({ quality: 90 })
      .toBuffer();
    const cut = whole.subarray(0, Math.floor(whole.length / 2));
    const photo = await uploadPhoto(t, guest, event.id, cut, "image/jpeg");
    const processed = await waitForProcessed(t, guest, event.id, photo.id);
    expect(processed).toMatchObject({ status: "rejected", urls: null, width: null });
    const keys = [`photos/${event.id}/${photo.id}-full.jpg`, `photos/${event.id}/${photo.id}-thumb.jpg`];
    await eventually(async () =>
      (await Promise.all(keys.map((key) => t.deps.storage.stat(key)))).every((s) => s === null),
    );
  });

  it("lets confirmed participants and the organizer upload, nobody else", async () => {
    const body = { contentType: "image/png", size: 1000 };
    const ask = (who: CreatedUser | null, eventId = event.id) =>
      t.app.inject({
        method: "POST",
        url: `/api/events/${eventId}/photos/uploads`,
        headers: who === null ? {} : bearer(who),
        payload: body,
      });
    expect((await ask(organizer)).statusCode).toBe(201);
    expect((await ask(guest)).statusCode).toBe(201);
    expect((await ask(null)).statusCode).toBe(401);
    const stranger = await createUser(t);
    expect((await ask(stranger)).statusCode).toBe(403);

    const full = await createPublished(t, organizer, { capacity: 1 });
    const seated = await createUser(t);
    const waiting = await createUser(t);
    await join(seated, full.id);
    await join(waiting, full.id);
    expect((await ask(seated, full.id)).statusCode).toBe(201);
    expect((await ask(waiting, full.id)).statusCode).toBe(403);

    const draft = await createDraft(t, organizer);
    const hidden = await ask(stranger, draft.id);
    expect(hidden.statusCode).toBe(404);
    expect(codeOf(hidden.body)).toBe("event.not_found");
  });

  it("refuses other types (HEIC included) with 415 and declared sizes over 20 MiB with 413", async () => {
    const ask = (contentType: string, size: number) =>
      t.app.inject({
        method: "POST",
        url: `/api/events/${event.id}/photos/uploads`,
        headers: bearer(guest),
        payload: { contentType, size },
      });
    for (const type of ["text/plain", "image/heic", "image/gif", "application/pdf"]) {
      const refused = await ask(type, 1000);
      expect(refused.statusCode).toBe(415);
      expect(codeOf(refused.body)).toBe("photo.unsupported_type");
    }
    const tooLarge = await ask("image/jpeg", 20 * 1024 * 1024 + 1);
    expect(tooLarge.statusCode).toBe(413);
    expect(codeOf(tooLarge.body)).toBe("photo.too_large");
    expect((await ask("image/jpeg", 20 * 1024 * 1024)).statusCode).toBe(201);
    expect((await ask("IMAGE/WEBP", 10)).statusCode).toBe(201);
    const unknownUpload = await complete(t, guest, event.id, "0193a0c0-0000-7000-8000-000000000000");
    expect(unknownUpload.statusCode).toBe(404);
    expect(codeOf(unknownUpload.body)).toBe("upload.not_found");
  });

  it("lists ready photos newest first by pages, and lets the uploader, organizer and moderators delete", async () => {
    const wallEvent = await createPublished(t, organizer);
    await join(guest, wallEvent.id);
    const bytes = await createGpsJpeg(40, 40);
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) ids.push((await uploadPhoto(t, guest, wallEvent.id, bytes)).id);
    for (const id of ids) await waitForProcessed(t, guest, wallEvent.id, id);

    const first = photoPageSchema.parse(
      (await t.app.inject(`/api/events/${wallEvent.id}/photos?limit=2`)).json(),
    );
    expect(first.items.map((item) => item.id)).toEqual([ids[2], ids[1]]);
    const second = photoPageSchema.parse(
      (
        await t.app.inject(`/api/events/${wallEvent.id}/photos?limit=2&cursor=${first.nextCursor ?? ""}`)
      ).json(),
    );
    expect(second).toMatchObject({ items: [{ id: ids[0] }], nextCursor: null });

    const remove = (who: CreatedUser, photoId: string) =>
      t.app.inject({
        method: "DELETE",
        url: `/api/events/${wallEvent.id}/photos/${photoId}`,
        headers: bearer(who),
      });
    const stranger = await createUser(t);
    expect((await remove(stranger, ids[0] ?? "")).statusCode).toBe(403);
    expect((await remove(guest, ids[0] ?? "")).statusCode).toBe(204);
    expect((await remove(organizer, ids[1] ?? "")).statusCode).toBe(204);
    const moderator = await createUser(t, { role: "moderator" });
    expect((await remove(moderator, ids[2] ?? "")).statusCode).toBe(204);
    const gone = await remove(guest, ids[0] ?? "");
    expect(gone.statusCode).toBe(404);
    expect(codeOf(gone.body)).toBe("photo.not_found");

    const wall = photoPageSchema.parse((await t.app.inject(`/api/events/${wallEvent.id}/photos`)).json());
    expect(wall.items).toEqual([]);
    const removed = (await outboxOf(t, wallEvent.id)).filter((row) => row.type === "photo.removed.v1");
    expect(removed.map((row) => row.payload)).toEqual(
      ids.map((photoId) => ({ eventId: wallEvent.id, photoId })),
    );
    const keys = ids.flatMap((id) => [
      `photos/${wallEvent.id}/${id}-full.jpg`,
      `photos/${wallEvent.id}/${id}-thumb.jpg`,
    ]);
    await eventually(async () =>
      (await Promise.all(keys.map((key) => t.deps.storage.stat(key)))).every((s) => s === null),
    );
  });

  it("refuses a PUT once the signed upload URL has expired", async () => {
    // Signed 16 minutes ago: the app judges expiry by its clock, the S3-compatible server by its real one.
    const realNow = clock.now();
    clock.set(new Date(realNow.getTime() - 16 * 60 * 1000));
    const host = await createUser(t);
    const party = await createPublished(t, host);
    const bytes = await createGpsJpeg(16, 16);
    const upload = await requestUpload(t, host, party.id, { contentType: "image/jpeg", size: bytes.length });
    clock.set(realNow);
    expect(await putBytes(upload, bytes)).toBe(403);
  });
});
