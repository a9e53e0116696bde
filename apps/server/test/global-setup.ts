import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { createDb } from "../src/platform/db.ts";
import { startEmbeddedPostgres } from "../src/platform/embedded-postgres.ts";
import { migrateToLatest } from "../src/platform/migrate.ts";
import { databaseUrl, runAdminQuery } from "./admin-sql.ts";

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
  }
}

// Once per run: find PostgreSQL (TEST_DATABASE_URL, else a private embedded cluster) and build a migrated
// template database that every test file clones, so files run in parallel on their own data.
export default async function setup(project: TestProject) {
  let adminUrl = process.env.TEST_DATABASE_URL;
  let stopCluster = async () => {};
  if (adminUrl === undefined || adminUrl === "") {
    const dir = await mkdtemp(join(tmpdir(), "turnout-test-pg-"));
    const cluster = await startEmbeddedPostgres({ dataDir: dir, port: await findFreePort() });
    adminUrl = cluster.url;
    stopCluster = async () => {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const template = `turnout_tpl_${Date.now().toString(36)}_${process.pid}`;
  await runAdminQuery(adminUrl, `CREATE DATABASE ${template}`);
  const { db, close } = createDb(databaseUrl(adminUrl, template), 1);
  await migrateToLatest(db);
  await close();

  project.provide("adminDatabaseUrl", adminUrl);
  project.provide("templateDatabase", template);
  return async () => {
    await runAdminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await stopCluster();
  };
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}
