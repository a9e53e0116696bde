import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./server-process.ts";

const WEB_DIR = join(REPO_ROOT, "apps/web");
const BUILT_INDEX = join(WEB_DIR, "dist/index.html");

/**
 * Builds apps/web unless its dist/index.html exists and is newer than every source of the app (its own and
 * those of the packages it bundles): the server only serves a built app, and a stale one would test old code.
 */
export async function ensureWebBuild(): Promise<void> {
  if (existsSync(BUILT_INDEX) && (await newestSourceMs()) < (await stat(BUILT_INDEX)).mtimeMs) return;
  // The test runner sets NODE_ENV=test, with which Vite would bundle React's development build.
  await promisify(execFile)("npm", ["run", "build", "-w", "apps/web"], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: "production" },
  });
}

async function newestSourceMs(): Promise<number> {
  const roots = [
    join(WEB_DIR, "src"),
    join(WEB_DIR, "index.html"),
    join(WEB_DIR, "vite.config.ts"),
    join(REPO_ROOT, "packages/contracts/src"),
    join(REPO_ROOT, "packages/tracker/src"),
  ];
  let newest = 0;
  for (const root of roots) {
    const info = await stat(root);
    if (info.isFile()) newest = Math.max(newest, info.mtimeMs);
    else
      for (const entry of await readdir(root, { recursive: true, withFileTypes: true }))
        if (entry.isFile())
          newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}
