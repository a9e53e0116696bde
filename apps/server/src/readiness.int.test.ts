import { inject } from "vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../test/app.ts";
import { runAdminQuery } from "../test/admin-sql.ts";
import { readinessDependencies } from "./app.ts";
import { loadConfig } from "./config.ts";

// /readyz per role (ADR 0023): each process reports the dependencies its roles need, and names the ones down.

const SECRETS = {
  TOKEN_SECRET: "readiness-token-secret-0123456789abcdef",
  TICKET_SECRET: "readiness-ticket-secret-0123456789abcdef",
  URL_SIGNING_SECRET: "readiness-url-secret-0123456789abcdefgh",
};

function needsOf(roles: string, natsUrl?: string) {
  return readinessDependencies(
    loadConfig({ ...SECRETS, DATABASE_URL: "postgres://x@127.0.0.1/x", ROLES: roles, NATS_URL: natsUrl }),
  );
}

describe("what each role's /readyz checks", () => {
  it("api: database; realtime: bus; collector: its stream; worker and every role: database and bus", () => {
    expect(needsOf("api")).toEqual(["database"]);
    expect(needsOf("realtime")).toEqual(["bus"]);
    expect(needsOf("collector", "nats://127.0.0.1:4222")).toEqual(["bus"]);
    // Without NATS the interaction stream is a table in the database.
    expect(needsOf("collector")).toEqual(["database"]);
    expect(needsOf("worker")).toEqual(["database", "bus"]);
    expect(needsOf("api,realtime")).toEqual(["database", "bus"]);
    expect(needsOf("api,realtime,collector,worker")).toEqual(["database", "bus"]);
  });
});

describe("/readyz with a dependency down", () => {
  const apps = new Map<string, TestApp>();
  const ready = async (role: string) => {
    const app = apps.get(role);
    if (app === undefined) throw new Error(`no app for ${role}`);
    const response = await app.app.inject({ url: "/readyz" });
    return { status: response.statusCode, body: response.json<unknown>() };
  };

  beforeAll(async () => {
    for (const role of ["api", "realtime", "worker"]) {
      apps.set(role, await createTestApp({ env: { ROLES: role } }));
    }
  });
  afterAll(async () => {
    for (const app of apps.values()) await app.close();
  });

  it("reports the bus down on realtime and worker, not on api", async () => {
    for (const role of apps.keys()) expect((await ready(role)).status, role).toBe(200);
    for (const app of apps.values()) await app.deps.bus.close();
    expect(await ready("api")).toEqual({ status: 200, body: { status: "ready", problems: [] } });
    for (const role of ["realtime", "worker"]) {
      expect(await ready(role), role).toEqual({
        status: 503,
        body: { status: "unready", problems: ["bus"] },
      });
    }
  });

  it("reports the database down on api and worker within 2 s, not on realtime", async () => {
    const adminUrl = inject("adminDatabaseUrl");
    const names = [...apps.values()].map((app) => new URL(app.database.url).pathname.slice(1));
    const setConnections = async (allowed: boolean) => {
      for (const name of names) {
        await runAdminQuery(adminUrl, `ALTER DATABASE ${name} ALLOW_CONNECTIONS ${String(allowed)}`);
        if (!allowed) {
          await runAdminQuery(
            adminUrl,
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`,
          );
        }
      }
    };
    await setConnections(false);
    try {
      const started = performance.now();
      const api = await ready("api");
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(api).toEqual({ status: 503, body: { status: "unready", problems: ["database"] } });
      // The bus was closed by the test before: the worker names both.
      expect(await ready("worker")).toEqual({
        status: 503,
        body: { status: "unready", problems: ["database", "bus"] },
      });
      expect((await ready("realtime")).body).toEqual({ status: "unready", problems: ["bus"] });
    } finally {
      await setConnections(true);
    }
    await expect.poll(async () => (await ready("api")).status, { timeout: 10_000 }).toBe(200);
  });
});
