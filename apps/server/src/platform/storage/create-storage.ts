import type { LocalStorageConfig, S3StorageConfig } from "../../config.ts";
import type { Clock } from "../clock.ts";
import { createLocalStorage } from "./local-storage.ts";
import { createS3Storage } from "./s3-storage.ts";
import type { Storage } from "./storage.ts";

/** The configured storage driver: the local disk, or an S3-compatible bucket. */
export function createStorage(
  config: LocalStorageConfig | S3StorageConfig,
  urlSigningSecret: string,
  clock: Clock,
): Storage {
  const now = () => clock.now();
  if (config.driver === "local") {
    return createLocalStorage({ root: config.root, signingSecret: urlSigningSecret, now });
  }
  return createS3Storage({ ...config, now });
}
