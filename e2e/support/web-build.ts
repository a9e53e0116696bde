import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./server-process.ts";

/** Builds apps/web unless its dist/index.html exists: the server only serves a built shell. */
export async function ensureWebBuild(): Promise<void> {
  if (existsSync(join(REPO_ROOT, "apps/web/dist/index.html"))) return;
  await promisify(execFile)("npm", ["run", "build", "-w", "apps/web"], { cwd: REPO_ROOT });
}
