import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  createDataDir,
  findFreePort,
  REPO_ROOT,
  startServer,
  type ServerProcess,
} from "../../../../e2e/support/server-process.ts";
import { timedRequest } from "../../test/embedded-server.ts";
import { embeddedPostgresUrl } from "../platform/embedded-postgres.ts";
import { BACKUP_MANIFEST, backupEmbedded, findRunningPort } from "./embedded-backup.ts";

/*
 * Issue 15: `npm run backup` copies a running embedded instance while it takes writes, `npm run restore`
 * puts the copy into a fresh DATA_DIR, and the app started on it has every write acknowledged before the
 * backup finished, and accepts the tokens the original issued (secrets.json came along).
 */

const READY_MS = 90_000;
// Two servers start (each with its own PostgreSQL) besides the backup: more than the tier's 60 s on a loaded machine.
const TEST_MS = 240_000;
const WRITERS = 3;
const NO_LIMITS = { RATE_LIMIT_REGISTRATIONS: "0", RATE_LIMIT_REQUESTS: "0" };

interface Acknowledged {
  email: string;
  at: number;
}

describe("backup and restore of embedded mode", () => {
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];

  afterAll(async () => {
    for (const server of servers) await server.forceStop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function start(name: string, dataDir: string): Promise<ServerProcess> {
    const server = startServer({ name, port: await findFreePort(), dataDir, env: NO_LIMITS });
    servers.push(server);
    await server.waitUntilReady(READY_MS);
    return server;
  }

  async function register(server: ServerProcess, email: string) {
    const answer = await timedRequest("register", `${server.baseUrl}/api/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "password-backup-0000", name: "Backed Up" }),
    });
    return answer;
  }

  it(
    "backs up under concurrent writes; the restored instance has every acknowledged row",
    async () => {
      const source = await createDataDir("backup-source");
      const backupDir = join(await createDataDir("backup-copy"), "backup");
      const restored = join(await createDataDir("backup-restored"), "data");
      dirs.push(source, join(backupDir, ".."), join(restored, ".."));
      const original = await start("backup-source", source);

      const firstEmail = `first-${Date.now()}@example.test`;
      const first = await register(original, firstEmail);
      expect(first.status).toBe(201);
      const { accessToken } = first.body as { accessToken: string };

      // Writers register users until told to stop; each 201 is an acknowledged row with its moment.
      const acknowledged: Acknowledged[] = [];
      let isWriting = true;
      let failures = 0;
      const writers = Array.from({ length: WRITERS }, async (_, writer) => {
        for (let n = 0; isWriting; n++) {
          const email = `w${writer}-${n}-${Date.now()}@example.test`;
          const answer = await register(original, email);
          if (answer.status === 201) acknowledged.push({ email, at: Date.now() });
          else failures += 1;
        }
      });
      while (acknowledged.length < 5) await sleep(20);
      const backupStartedAt = Date.now();
      const result = await backupEmbedded(source, backupDir);
      await sleep(300);
      isWriting = false;
      await Promise.all(writers);

      const duringBackup = acknowledged.filter(({ at }) => at >= backupStartedAt && at <= result.stoppedAt);
      const mustHave = acknowledged.filter(({ at }) => at <= result.stoppedAt);
      console.log(
        `backup: ${result.files} files, ${Math.round(result.bytes / 1e6)} MB in ${result.stoppedAt - backupStartedAt} ms ` +
          `to pg_backup_stop; ${duringBackup.length} registrations acknowledged during it, ` +
          `${mustHave.length} before its end, ${acknowledged.length} in all; WAL ${result.startLsn}..${result.walEndLsn}`,
      );
      expect(failures).toBe(0);
      expect(result.wasRunning).toBe(true);
      expect(duringBackup.length).toBeGreaterThan(0);
      expect(existsSync(join(backupDir, BACKUP_MANIFEST))).toBe(true);
      expect(existsSync(join(backupDir, "secrets.json"))).toBe(true);
      expect(existsSync(join(backupDir, "postgres", "postmaster.pid"))).toBe(false);
      // The backup's temporary replication slot is gone: it would hold WAL on the original for ever.
      const slots = await queryCluster(source, "SELECT slot_name FROM pg_replication_slots");
      expect(slots).toEqual([]);

      // The original runs on, undisturbed.
      expect((await register(original, `after-${Date.now()}@example.test`)).status).toBe(201);

      // `npm run restore` into a fresh DATA_DIR, then an app started on it.
      expect(await runRestore(backupDir, restored)).toContain(`put into ${restored}`);
      // Never over something: a second restore into the same DATA_DIR, or of something that is no backup.
      expect(await runRestore(backupDir, restored)).toContain(`${restored} is not empty`);
      expect(await runRestore(source, join(restored, "..", "other"))).toContain(
        `${source} is not a Turnout backup`,
      );
      const copy = await start("backup-restored", restored);

      const emails = new Set(
        (await queryCluster(restored, "SELECT email FROM users")).map((row) => String(row.email)),
      );
      const missing = mustHave.filter(({ email }) => !emails.has(email)).map(({ email }) => email);
      expect(missing).toEqual([]);
      expect(emails.has(firstEmail)).toBe(true);
      // The original's access token is accepted: the signing keys came with the backup.
      const me = await timedRequest("me", `${copy.baseUrl}/api/me`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      expect(me.status).toBe(200);
      // And the restored instance takes writes of its own.
      expect((await register(copy, `restored-${Date.now()}@example.test`)).status).toBe(201);
    },
    TEST_MS,
  );
});

// `npm run restore -- <backup>` with DATA_DIR=<dataDir>: its output, or its error's.
async function runRestore(backupDir: string, dataDir: string): Promise<string> {
  return promisify(execFile)(process.execPath, ["--import", "tsx", "apps/server/src/restore.ts", backupDir], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: "" },
  }).then(
    ({ stdout }) => stdout,
    (error: unknown) => String(error),
  );
}

// Rows from the `turnout` database of the embedded cluster running on `dataDir`.
async function queryCluster(dataDir: string, sql: string): Promise<Record<string, unknown>[]> {
  const port = await findRunningPort(join(dataDir, "postgres"));
  if (port === null) throw new Error(`no PostgreSQL runs on ${dataDir}`);
  const url = new URL(embeddedPostgresUrl(port));
  url.pathname = "/turnout";
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await client.end();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
