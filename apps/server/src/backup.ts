// `npm run backup [-- <directory>]`: a consistent copy of embedded mode's DATA_DIR, the app running or not.
import { resolve } from "node:path";
import { backupEmbedded } from "./backup/embedded-backup.ts";
import { loadConfig } from "./config.ts";

const config = loadConfig();
if (!config.isEmbedded) {
  process.stderr.write(
    "backup: DATABASE_URL is set (cluster mode): back up that PostgreSQL with its own tools " +
      "(pg_dump, or your operator's backups); see docs/operations.md.\n",
  );
  process.exit(1);
}
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const target = resolve(process.argv[2] ?? `backups/turnout-${stamp}`);
const result = await backupEmbedded(config.dataDir, target);
process.stdout.write(
  `backup: ${config.dataDir} copied to ${target} (${result.files} files, ${Math.round(result.bytes / 1e6)} MB, ` +
    `WAL up to ${result.walEndLsn}, the app ${result.wasRunning ? "running" : "stopped"}).\n` +
    `Restore with: DATA_DIR=<new directory> npm run restore -- ${target}\n`,
);
