import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  createDataDir,
  findFreePort,
  startServer,
  type ServerProcess,
} from "../../../../e2e/support/server-process.ts";
import { readPostmasterPid, timedRequest } from "../../test/embedded-server.ts";
import { whyNotPostmasterOf } from "./postmaster-pid.ts";
import { isAlive } from "./process.ts";

/*
 * Starting embedded mode next to other things on one machine (issue 9, points 5 and 6), with real child
 * processes of main.ts: two instances side by side, a port that is taken, a data directory the postgres
 * system user cannot reach, and a stale postmaster.pid naming a process that is not PostgreSQL.
 */

const READY_MS = 90_000;
const isRoot = process.getuid?.() === 0;

describe("embedded mode next to other instances and processes", () => {
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  const bystanders: ChildProcess[] = [];

  afterAll(async () => {
    for (const server of servers) await server.forceStop();
    for (const bystander of bystanders) bystander.kill("SIGKILL");
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function start(name: string, env: Record<string, string> = {}, dataDir?: string) {
    const dir = dataDir ?? (await createDataDir(name));
    if (dataDir === undefined) dirs.push(dir);
    const server = startServer({ name, port: await findFreePort(), dataDir: dir, env });
    servers.push(server);
    return { server, dataDir: dir };
  }

  it("runs two instances side by side, each with its own PORT, DATA_DIR and PostgreSQL port", async () => {
    const [first, second] = await Promise.all([start("side-a"), start("side-b")]);
    const [firstMs, secondMs] = await Promise.all([
      first.server.waitUntilReady(READY_MS),
      second.server.waitUntilReady(READY_MS),
    ]);
    console.log(`side by side: ready after ${firstMs} ms and ${secondMs} ms`);

    const ports = [embeddedPortOf(first.server), embeddedPortOf(second.server)];
    expect(ports[0]).not.toBe(ports[1]);
    // Each serves from its own database: the same address registers on both.
    const email = `twin-${Date.now()}@example.test`;
    for (const { server } of [first, second]) {
      const registered = await timedRequest("register", `${server.baseUrl}/api/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password: "password-twin-0000", name: "Twin" }),
      });
      expect(registered.status).toBe(201);
    }

    // A fixed EMBEDDED_POSTGRES_PORT that is taken: the start fails, saying why and what to do.
    const clash = await start("port-clash", { EMBEDDED_POSTGRES_PORT: String(ports[0]) });
    const failure = await clash.server.waitUntilReady(READY_MS).then(
      () => "started",
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    expect(failure).toContain("turnout failed to start: the embedded PostgreSQL did not start on port");
    expect(failure).toContain(`What to do: port ${ports[0]} (EMBEDDED_POSTGRES_PORT) is in use`);
    expect(failure).not.toContain("undefined");
  });

  it("leaves alone a live process that a stale postmaster.pid names, and starts", async () => {
    const { server, dataDir } = await start("stale-pid");
    await server.waitUntilReady(READY_MS);
    const postmaster = await readPostmasterPid(dataDir);
    expect(await whyNotPostmasterOf(postmaster, join(dataDir, "postgres"))).toBeNull();
    expect((await server.stop(15_000)).code).toBe(0);

    const bystander = spawn("sleep", ["120"], { stdio: "ignore" });
    bystanders.push(bystander);
    const pid = bystander.pid ?? 0;
    expect(await whyNotPostmasterOf(pid, join(dataDir, "postgres"))).toMatch(/sleep/);
    await writeFile(join(dataDir, "postgres", "postmaster.pid"), `${pid}\n${join(dataDir, "postgres")}\n`);

    const again = await start("stale-pid-again", {}, dataDir);
    await again.server.waitUntilReady(READY_MS);
    expect(isAlive(pid)).toBe(true);
    expect(bystander.signalCode).toBeNull();
    expect(again.server.logTail(200)).toContain("stale postmaster.pid handled");
    expect(await readPostmasterPid(dataDir)).not.toBe(pid);
  });

  it.skipIf(!isRoot)("explains, when root, that the postgres system user cannot reach DATA_DIR", async () => {
    const locked = await mkdtemp(join(tmpdir(), "turnout-locked-"));
    dirs.push(locked);
    await chmod(locked, 0o700);
    const { server } = await start("locked", {}, join(locked, "data"));
    const failure = await server.waitUntilReady(READY_MS).then(
      () => "started",
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    expect(failure).toContain(
      "turnout failed to start: the embedded PostgreSQL cannot reach its data directory",
    );
    expect(failure).toContain('runs it as the system user "postgres"');
    expect(failure).toContain(`may not enter ${locked}`);
    expect(failure).toContain(`chmod o+x ${locked}`);
  });
});

// The port the server logged for its embedded PostgreSQL.
function embeddedPortOf(server: ServerProcess): number {
  for (const line of server.logTail(500).split("\n")) {
    if (!line.includes("embedded PostgreSQL running")) continue;
    const entry: unknown = JSON.parse(line);
    if (typeof entry === "object" && entry !== null && "port" in entry && typeof entry.port === "number")
      return entry.port;
  }
  throw new Error(`no embedded port in the log:\n${server.logTail()}`);
}
