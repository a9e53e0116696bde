import { readFile, stat, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createManualClock } from "../clock.ts";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { createTestDataDir, startTestS3 } from "../../../test/s3.ts";
import { absoluteUrl } from "./storage.ts";

// One contract for both drivers, each against a real peer: the app's own signed endpoint on a real socket,
// and a real S3-compatible server (s3rver) reached through real presigned URLs.

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

describe.each(drivers)("storage driver $name", ({ name, start }) => {
  let peer: Peer;
  let t: TestApp;
  let origin: string;
  const clock = createManualClock(new Date());

  beforeAll(async () => {
    peer = await start();
    t = await createTestApp({ env: peer.env, deps: { clock } });
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const address = t.app.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    origin = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await t.close();
    await peer.close();
  });

  const inMinutes = (minutes: number) => new Date(clock.now().getTime() + minutes * 60_000);
  const bytes = Buffer.from("a photo's bytes, more or less");

  async function upload(key: string, body: Buffer, contentType = "image/jpeg") {
    const signed = await t.deps.storage.signUpload(key, {
      contentType,
      size: body.length,
      expiresAt: inMinutes(15),
    });
    return fetch(absoluteUrl(signed.url, origin), { method: "PUT", headers: signed.headers, body });
  }

  it("is the configured driver", () => {
    expect(t.deps.storage.driver).toBe(name);
  });

  it("takes bytes through a signed upload URL and serves them through a signed download URL", async () => {
    const key = `uploads/${name}-roundtrip`;
    expect(await t.deps.storage.stat(key)).toBeNull();
    const put = await upload(key, bytes);
    expect(put.status).toBe(200);
    expect(await t.deps.storage.stat(key)).toEqual({ size: bytes.length });

    const got = await fetch(absoluteUrl(await t.deps.storage.signDownload(key, inMinutes(5)), origin));
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer())).toEqual(bytes);

    const chunks: Buffer[] = [];
    for await (const chunk of await t.deps.storage.read(key)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks)).toEqual(bytes);

    await t.deps.storage.delete([key]);
    expect(await t.deps.storage.stat(key)).toBeNull();
  });

  it("writes objects the server made and reads them back", async () => {
    const key = `photos/${name}/thumb.jpg`;
    await t.deps.storage.write(key, bytes, "image/jpeg");
    expect(await t.deps.storage.stat(key)).toEqual({ size: bytes.length });
    const got = await fetch(absoluteUrl(await t.deps.storage.signDownload(key, inMinutes(5)), origin));
    expect(got.headers.get("content-type")).toContain("image/jpeg");
    expect(Buffer.from(await got.arrayBuffer())).toEqual(bytes);
  });

  it("hands readers a file of the object that a later upload to the same key does not change", async () => {
    const key = `uploads/${name}-via-file`;
    expect((await upload(key, bytes)).status).toBe(200);
    const replacement = Buffer.from("other bytes of another length");
    let snapshot = "";
    const seen = await t.deps.storage.readViaFile(key, async (path) => {
      snapshot = path;
      expect((await upload(key, replacement)).status).toBe(200);
      return readFile(path);
    });
    expect(seen).toEqual(bytes);
    expect(await t.deps.storage.stat(key)).toEqual({ size: replacement.length });
    await expect(stat(snapshot)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(
      t.deps.storage.readViaFile(`uploads/${name}-none`, () => Promise.resolve(1)),
    ).rejects.toThrow();
  });

  it("stores what a writer puts in a file, and nothing when the writer fails", async () => {
    const key = `photos/${name}/via-file.jpg`;
    let written = "";
    const answer = await t.deps.storage.writeViaFile(key, "image/jpeg", async (path) => {
      written = path;
      await writeFile(path, bytes);
      return 42;
    });
    expect(answer).toBe(42);
    expect(await t.deps.storage.stat(key)).toEqual({ size: bytes.length });
    const got = await fetch(absoluteUrl(await t.deps.storage.signDownload(key, inMinutes(5)), origin));
    expect(got.headers.get("content-type")).toContain("image/jpeg");
    expect(Buffer.from(await got.arrayBuffer())).toEqual(bytes);
    await expect(stat(written)).rejects.toMatchObject({ code: "ENOENT" });

    const failing = `photos/${name}/never.jpg`;
    const writing = t.deps.storage.writeViaFile(failing, "image/jpeg", async (path) => {
      written = path;
      await writeFile(path, bytes.subarray(0, 4));
      throw new Error("the encoder gave up");
    });
    await expect(writing).rejects.toThrow("the encoder gave up");
    expect(await t.deps.storage.stat(failing)).toBeNull();
    await expect(stat(written)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses a download URL once it has expired", async () => {
    const key = `uploads/${name}-expiry`;
    await t.deps.storage.write(key, bytes, "image/jpeg");
    // Signed an hour ago for one minute: both the app's clock and the store's real one are past it now.
    const realNow = clock.now();
    clock.set(new Date(realNow.getTime() - 60 * 60_000));
    const url = await t.deps.storage.signDownload(key, inMinutes(1));
    clock.set(realNow);
    const got = await fetch(absoluteUrl(url, origin));
    expect(got.status).toBe(403);
  });
});

describe("local driver's signed endpoint", () => {
  let dir: Awaited<ReturnType<typeof createTestDataDir>>;
  let t: TestApp;
  let origin: string;
  const clock = createManualClock(new Date());

  beforeAll(async () => {
    dir = await createTestDataDir();
    t = await createTestApp({ env: dir.env, deps: { clock } });
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const address = t.app.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    origin = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await t.close();
    await dir.remove();
  });

  const sign = (key: string, size: number) =>
    t.deps.storage.signUpload(key, {
      contentType: "image/png",
      size,
      expiresAt: new Date(clock.now().getTime() + 15 * 60_000),
    });

  async function put(url: string, body: Buffer | ReadableStream, headers: Record<string, string>) {
    const response = await fetch(absoluteUrl(url, origin), {
      method: "PUT",
      headers,
      body,
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    });
    return { status: response.status, body: (await response.json()) as { error?: { code: string } } };
  }

  it("refuses bytes beyond the declared size, also when they come chunked without a length", async () => {
    const key = "uploads/too-many";
    const signed = await sign(key, 10);
    const declaredTooLong = await put(signed.url, Buffer.alloc(11), signed.headers);
    expect(declaredTooLong).toMatchObject({ status: 413, body: { error: { code: "request.too_large" } } });

    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(8));
        controller.enqueue(new Uint8Array(8));
        controller.close();
      },
    });
    const sentChunked = await put(signed.url, chunked, signed.headers);
    expect(sentChunked).toMatchObject({ status: 413, body: { error: { code: "request.too_large" } } });
    expect(await t.deps.storage.stat(key)).toBeNull();
  });

  it("refuses a short body, another content type, a forged signature and an expired link", async () => {
    const key = "uploads/refusals";
    const signed = await sign(key, 10);
    expect((await put(signed.url, Buffer.alloc(4), signed.headers)).status).toBe(400);
    expect((await put(signed.url, Buffer.alloc(10), { "content-type": "image/jpeg" })).status).toBe(403);
    const forged = signed.url.replace("size=10", "size=1000");
    expect((await put(forged, Buffer.alloc(1000), signed.headers)).status).toBe(403);
    const otherKey = signed.url.replace(key, "uploads/elsewhere");
    expect((await put(otherKey, Buffer.alloc(10), signed.headers)).status).toBe(403);
    clock.advance(16 * 60_000);
    expect((await put(signed.url, Buffer.alloc(10), signed.headers)).status).toBe(403);
    expect(await t.deps.storage.stat(key)).toBeNull();
  });
});
