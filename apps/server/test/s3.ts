import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

export interface TestS3 {
  /** Environment that points the app's storage at this server. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * A real S3-compatible server (s3rver) on a free port with one bucket, its objects in a temporary directory.
 * It serves presigned PUT and GET and checks their expiry; it does not verify V4 signatures themselves.
 */
export async function startTestS3(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "turnout-s3-"));
  const bucket = "turnout-test";
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  return {
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      S3_FORCE_PATH_STYLE: "true",
    },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A temporary DATA_DIR for a test app whose files go to the local disk. */
export async function createTestDataDir(): Promise<{ env: Record<string, string>; remove(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), "turnout-data-"));
  return {
    env: { DATA_DIR: directory },
    remove: () => rm(directory, { recursive: true, force: true }),
  };
}
