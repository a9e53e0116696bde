import { randomUUID } from "node:crypto";
import { inject } from "vitest";
import { createDb, SERVING_TIMEOUTS, type Db } from "../src/platform/db.ts";
import { databaseUrl, runAdminQuery, withAdminClient } from "./admin-sql.ts";

export interface TestDatabase {
  url: string;
  db: Db;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own, cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject("adminDatabaseUrl");
  const name = `turnout_t_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  await withAdminClient(adminUrl, async (client) => {
    // Two clones of one template at the same instant can collide on the template's lock; retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${name} TEMPLATE ${inject("templateDatabase")}`);
        return;
      } catch (error) {
        const isBusy = error instanceof Error && /is being accessed by other users/.test(error.message);
        if (!isBusy || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
      }
    }
  });
  const url = databaseUrl(adminUrl, name);
  // The serving pool's timeouts, as in production: every int test runs through them (ADR 0007).
  const { db, close } = createDb(url, { maxConnections: 20, timeouts: SERVING_TIMEOUTS });
  return {
    url,
    db,
    drop: async () => {
      await close();
      await runAdminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
