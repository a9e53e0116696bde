import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { promisify } from "node:util";

/*
 * PostgreSQL refuses to run as root, so a root-started app runs its embedded PostgreSQL as the system user
 * "postgres" (created on first use). That user must be able to walk down to the data directory; when it
 * cannot, initdb and postgres fail with a bare "Permission denied". Finding the blocking directory first lets
 * the start-up error name it.
 */

export const POSTGRES_SYSTEM_USER = "postgres";

export interface SystemIds {
  uid: number;
  gid: number;
}

/** The uid/gid of the postgres system user, or null when it does not exist yet. */
export async function findPostgresUser(): Promise<SystemIds | null> {
  const run = promisify(execFile);
  try {
    const [uid, gid] = await Promise.all([
      run("id", ["-u", POSTGRES_SYSTEM_USER]),
      run("id", ["-g", POSTGRES_SYSTEM_USER]),
    ]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return null;
  }
}

/** The first existing directory above `dataDir` that `ids` (null: a user not yet created) may not enter. */
export async function findBlockingDirectory(dataDir: string, ids: SystemIds | null): Promise<string | null> {
  for (const dir of ancestorsOf(resolve(dataDir))) {
    const info = await stat(dir).catch(() => null);
    if (info === null) return null; // created later by the app itself, with an enterable mode
    const mayEnter =
      (info.mode & 0o001) !== 0 ||
      (ids !== null && info.uid === ids.uid && (info.mode & 0o100) !== 0) ||
      (ids !== null && info.gid === ids.gid && (info.mode & 0o010) !== 0);
    if (!mayEnter) return dir;
  }
  return null;
}

/** Why the embedded PostgreSQL cannot use `dataDir` when started by root, and what to do about it. */
export function explainBlockedDirectory(dataDir: string, blocking: string): string {
  return [
    `the embedded PostgreSQL cannot reach its data directory ${dataDir}.`,
    `PostgreSQL refuses to run as root, so Turnout (started as root) runs it as the system user "${POSTGRES_SYSTEM_USER}",`,
    `and that user may not enter ${blocking}.`,
    `What to do: set DATA_DIR to a directory outside ${blocking} (for example /var/lib/turnout),`,
    `or let the user in with \`chmod o+x ${blocking}\`, or start Turnout as an ordinary user.`,
  ].join(" ");
}

// From the root down to the data directory's parent: the ones the postgres user must pass through.
function ancestorsOf(dir: string): string[] {
  const chain: string[] = [];
  for (let current = dirname(dir); ; current = dirname(current)) {
    chain.unshift(current);
    if (dirname(current) === current) return chain;
  }
}
