// `npm run restore -- <backup directory>`: puts a backup from `npm run backup` into a new or empty DATA_DIR.
import { resolve } from "node:path";
import { restoreEmbedded } from "./backup/embedded-restore.ts";
import { loadConfig } from "./config.ts";

const config = loadConfig();
const source = process.argv[2];
if (source === undefined || !config.isEmbedded) {
  process.stderr.write(
    "usage: DATA_DIR=<new or empty directory> npm run restore -- <backup directory> (embedded mode only)\n",
  );
  process.exit(1);
}
const manifest = await restoreEmbedded(resolve(source), config.dataDir);
process.stdout.write(
  `restore: backup of ${manifest.createdAt} put into ${config.dataDir}; ` +
    "start Turnout on it (npm start) and PostgreSQL replays the backup's WAL.\n",
);
