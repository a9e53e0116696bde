import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createDataDir, findFreePort, startServer, type ServerProcess } from "./support/server-process.ts";

// What a user gets from `npm start`: no DATABASE_URL, so the app runs its own PostgreSQL in DATA_DIR.
describe("embedded mode start-up", () => {
  const started: ServerProcess[] = [];
  let dataDir: string | undefined;

  afterAll(async () => {
    for (const server of started) await server.forceStop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it("initialises on first start, restarts faster on the same DATA_DIR and keeps its secrets", async () => {
    dataDir = await createDataDir("embedded");
    const options = {
      port: await findFreePort(),
      dataDir,
      env: { EMBEDDED_POSTGRES_PORT: String(await findFreePort()) },
    };
    const secretsFile = join(dataDir, "secrets.json");

    const first = startServer({ name: "embedded-first", ...options });
    started.push(first);
    const firstMs = await first.waitUntilReady(60_000);
    const secretsMode = (await stat(secretsFile)).mode & 0o777;
    const secretsBefore = await readFile(secretsFile, "utf8");
    const firstExit = await first.stop(10_000);

    const second = startServer({ name: "embedded-second", ...options });
    started.push(second);
    const secondMs = await second.waitUntilReady(60_000);
    const secretsAfter = await readFile(secretsFile, "utf8");
    const secretsModeAfter = (await stat(secretsFile)).mode & 0o777;
    const secondExit = await second.stop(10_000);

    console.log(`embedded start: first=${firstMs}ms second=${secondMs}ms`);
    expect(firstExit.code).toBe(0);
    expect(secondExit.code).toBe(0);
    // Ordered shutdown closes the pool before PostgreSQL stops, so nothing errors on the way down.
    expect(firstExit.errorsWhileStopping).toEqual([]);
    expect(secondExit.errorsWhileStopping).toEqual([]);
    expect(firstMs).toBeLessThan(30_000);
    expect(secondMs).toBeLessThan(10_000);
    expect(secretsMode.toString(8)).toBe("600");
    expect(secretsModeAfter.toString(8)).toBe("600");
    expect(secretsAfter).toBe(secretsBefore);
  });
});
