import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import {
  embeddedPostgresUrl,
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from "../platform/embedded-postgres.ts";
import { whyNotPostmasterOf } from "../platform/postmaster-pid.ts";
import { isAlive } from "../platform/process.ts";

/*
 * A consistent copy of embedded mode's DATA_DIR while the app runs (ADR 0017). The embedded binaries have no
 * pg_dump or pg_basebackup, so this does what pg_basebackup -X fetch does, with PostgreSQL's low-level
 * functions: pg_backup_start, copy the cluster's files as they are (torn pages included: PostgreSQL writes
 * full pages to the WAL while a backup runs), pg_backup_stop, then copy the WAL from the backup's start to
 * now. A temporary replication slot keeps that WAL from being recycled meanwhile. A cluster started from the
 * copy replays the WAL to its end: every transaction committed before the WAL was copied is in it.
 */

/** The file in a backup's top directory that marks it as one and says what it holds. */
export const BACKUP_MANIFEST = "turnout-backup.json";
/** Where embedded mode keeps its PostgreSQL cluster inside DATA_DIR (platform/open-database.ts). */
export const CLUSTER_SUBDIR = "postgres";

export interface BackupManifest {
  format: 1;
  createdAt: string;
  postgresVersion: string;
  startLsn: string;
  stopLsn: string;
  /** The WAL was copied up to here: the restored cluster holds every transaction committed before it. */
  walEndLsn: string;
}

export interface BackupResult extends BackupManifest {
  /** Date.now() once pg_backup_stop returned: a commit acknowledged before this moment is in the backup. */
  stoppedAt: number;
  files: number;
  bytes: number;
  /** Whether the backup found the app's PostgreSQL running, or started the cluster for the copy. */
  wasRunning: boolean;
}

// Skipped as pg_basebackup skips them (PostgreSQL docs, "Making a Base Backup Using the Low Level API"):
// files of the running server, and directories whose contents are rebuilt at start.
const SKIPPED_FILES = new Set([
  "postmaster.pid",
  "postmaster.opts",
  "backup_label",
  "tablespace_map",
  "backup_manifest",
  "current_logfiles",
  "pg_internal.init",
]);
const EMPTIED_DIRS = new Set([
  "pg_wal",
  "pg_replslot",
  "pg_dynshmem",
  "pg_notify",
  "pg_serial",
  "pg_snapshots",
  "pg_stat_tmp",
  "pg_subtrans",
]);
const WAL_SEGMENT = /^[0-9A-F]{24}$/;

/** Copies the embedded DATA_DIR `dataDir` into the new directory `target`, consistently, while the app runs. */
export async function backupEmbedded(dataDir: string, target: string): Promise<BackupResult> {
  const clusterDir = join(dataDir, CLUSTER_SUBDIR);
  if (!existsSync(join(clusterDir, "PG_VERSION"))) {
    throw new Error(`no embedded PostgreSQL cluster in ${clusterDir}: is DATA_DIR right?`);
  }
  await createEmptyDirectory(target);
  const runningPort = await findRunningPort(clusterDir);
  // Nothing runs: the cluster is started for the copy (the same way the app would) and stopped after.
  let started: EmbeddedPostgresHandle | null = null;
  if (runningPort === null) started = await startEmbeddedPostgres({ dataDir: clusterDir });
  const client = new pg.Client({ connectionString: embeddedPostgresUrl(runningPort ?? started?.port ?? 0) });
  try {
    await client.connect();
    const copied = await copyCluster(client, clusterDir, join(target, CLUSTER_SUBDIR));
    const others = await copyOtherFiles(dataDir, target);
    const manifest: BackupManifest = {
      format: 1,
      createdAt: new Date().toISOString(),
      postgresVersion: (await readFile(join(clusterDir, "PG_VERSION"), "utf8")).trim(),
      startLsn: copied.startLsn,
      stopLsn: copied.stopLsn,
      walEndLsn: copied.walEndLsn,
    };
    await writeFile(join(target, BACKUP_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return {
      ...manifest,
      stoppedAt: copied.stoppedAt,
      files: copied.files + others.files,
      bytes: copied.bytes + others.bytes,
      wasRunning: runningPort !== null,
    };
  } finally {
    await client.end().catch(() => undefined);
    await started?.stop();
  }
}

interface Tally {
  files: number;
  bytes: number;
}

async function copyCluster(client: pg.Client, clusterDir: string, targetDir: string) {
  const slot = `turnout_backup_${process.pid}_${Date.now()}`;
  // Temporary, reserving WAL now: it holds every segment from before the backup's start until the session ends.
  await client.query("SELECT pg_create_physical_replication_slot($1, true, true)", [slot]);
  const start = await client.query<{ lsn: string }>("SELECT pg_backup_start($1, true)::text AS lsn", [
    `turnout ${new Date().toISOString()}`,
  ]);
  const tally: Tally = { files: 0, bytes: 0 };
  await copyTree(clusterDir, targetDir, tally, true);
  const stop = await client.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
    "SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_backup_stop(false)",
  );
  const stoppedAt = Date.now();
  const { lsn: stopLsn, labelfile, spcmapfile } = stop.rows[0] ?? failNoRow("pg_backup_stop");
  await writeFile(join(targetDir, "backup_label"), labelfile);
  if (spcmapfile !== null && spcmapfile !== "")
    await writeFile(join(targetDir, "tablespace_map"), spcmapfile);

  // The WAL from the backup's start to the segment being written now, which holds every flushed commit.
  const now = await client.query<{ lsn: string; segment: string }>(
    "SELECT pg_current_wal_lsn()::text AS lsn, pg_walfile_name(pg_current_wal_lsn()) AS segment",
  );
  const { lsn: walEndLsn, segment: lastSegment } = now.rows[0] ?? failNoRow("pg_current_wal_lsn");
  const firstSegment = /START WAL LOCATION: .* \(file ([0-9A-F]{24})\)/.exec(labelfile)?.[1];
  if (firstSegment === undefined) throw new Error(`no start segment in the backup label:\n${labelfile}`);
  const walDir = join(clusterDir, "pg_wal");
  for (const name of (await readdir(walDir)).sort()) {
    const isNeeded =
      (WAL_SEGMENT.test(name) && name >= firstSegment && name <= lastSegment) || name.endsWith(".history");
    if (isNeeded) await copyCounted(join(walDir, name), join(targetDir, "pg_wal", name), tally);
  }
  await client.query("SELECT pg_drop_replication_slot($1)", [slot]);
  return { startLsn: start.rows[0]?.lsn ?? "", stopLsn, walEndLsn, stoppedAt, ...tally };
}

// Copies a directory as it is now; files that vanish meanwhile (a dropped table) are no loss to the backup.
async function copyTree(source: string, target: string, tally: Tally, isClusterTop = false): Promise<void> {
  await mkdir(target, { recursive: true, mode: 0o700 });
  const entries = await readdir(source, { withFileTypes: true }).catch(ignoreVanished);
  for (const entry of entries ?? []) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory()) {
      if (isClusterTop && EMPTIED_DIRS.has(entry.name)) {
        await mkdir(to, { mode: 0o700 });
        if (entry.name === "pg_wal") await mkdir(join(to, "archive_status"), { mode: 0o700 });
      } else {
        await copyTree(from, to, tally);
      }
    } else if (entry.isFile() && !SKIPPED_FILES.has(entry.name) && !entry.name.startsWith("pgsql_tmp")) {
      await copyCounted(from, to, tally);
    }
  }
}

async function copyCounted(from: string, to: string, tally: Tally): Promise<void> {
  try {
    await copyFile(from, to);
  } catch (error) {
    ignoreVanished(error);
    return;
  }
  await chmod(to, 0o600);
  const { size } = await stat(to);
  tally.files += 1;
  tally.bytes += size;
}

// DATA_DIR's other entries: secrets.json above all (the signing keys of every token and ticket issued).
async function copyOtherFiles(dataDir: string, target: string): Promise<Tally> {
  const tally: Tally = { files: 0, bytes: 0 };
  for (const entry of await readdir(dataDir, { withFileTypes: true })) {
    if (entry.name === CLUSTER_SUBDIR) continue;
    const from = join(dataDir, entry.name);
    if (entry.isDirectory()) await copyTree(from, join(target, entry.name), tally);
    else if (entry.isFile()) await copyCounted(from, join(target, entry.name), tally);
  }
  return tally;
}

/** The port of the PostgreSQL running on `clusterDir` (the app's, or one it orphaned), or null if none runs. */
export async function findRunningPort(clusterDir: string): Promise<number | null> {
  const pidFile = join(clusterDir, "postmaster.pid");
  if (!existsSync(pidFile)) return null;
  // Lines: pid, data directory, start time, port, socket directory, listen address, shared memory, status.
  const lines = (await readFile(pidFile, "utf8")).split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  if ((await whyNotPostmasterOf(pid, clusterDir)) !== null) return null;
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port in ${pidFile}: is PostgreSQL starting?`);
  return port;
}

/** Creates `dir` (and its parents), refusing one that exists with something in it. */
export async function createEmptyDirectory(dir: string): Promise<void> {
  if (existsSync(dir) && (await readdir(dir)).length > 0) {
    throw new Error(`${dir} is not empty: choose a new directory`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

function ignoreVanished(error: unknown): undefined {
  if (error instanceof Error && "code" in error && error.code === "ENOENT") return undefined;
  throw error;
}

function failNoRow(what: string): never {
  throw new Error(`${what} returned no row`);
}
