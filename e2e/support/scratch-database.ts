import { randomBytes } from "node:crypto";
import pg from "pg";

export interface ScratchDatabase {
  url: string;
  /** Drops the database, disconnecting whoever is still on it. */
  drop(): Promise<void>;
}

/** Creates an empty, uniquely named database on the server of `adminUrl`; the app migrates it at start. */
export async function createScratchDatabase(adminUrl: string): Promise<ScratchDatabase> {
  const name = `turnout_e2e_${randomBytes(8).toString("hex")}`;
  await runAdminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => runAdminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Cluster mode refuses to start without signing keys; these are test-only values of the required length. */
export const TEST_CLUSTER_SECRETS = {
  TOKEN_SECRET: "e2e-token-secret-0123456789abcdefghijklmnop",
  TICKET_SECRET: "e2e-ticket-secret-0123456789abcdefghijklmno",
  URL_SIGNING_SECRET: "e2e-url-signing-secret-0123456789abcdefghij",
};

async function runAdminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
