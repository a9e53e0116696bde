import { randomBytes } from "node:crypto";
import { databaseUrl, runAdminQuery } from "../../apps/server/test/admin-sql.ts";

export interface ScratchDatabase {
  url: string;
  /** Drops the database, disconnecting whoever is still on it. */
  drop(): Promise<void>;
}

/** Creates an empty, uniquely named database on the server of `adminUrl`; the app migrates it at start. */
export async function createScratchDatabase(adminUrl: string): Promise<ScratchDatabase> {
  const name = `turnout_e2e_${randomBytes(8).toString("hex")}`;
  await runAdminQuery(adminUrl, `CREATE DATABASE ${name}`);
  return {
    url: databaseUrl(adminUrl, name),
    drop: () => runAdminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Cluster mode refuses to start without signing keys; these are test-only values of the required length. */
export const TEST_CLUSTER_SECRETS = {
  TOKEN_SECRET: "e2e-token-secret-0123456789abcdefghijklmnop",
  TICKET_SECRET: "e2e-ticket-secret-0123456789abcdefghijklmno",
  URL_SIGNING_SECRET: "e2e-url-signing-secret-0123456789abcdefghij",
};
