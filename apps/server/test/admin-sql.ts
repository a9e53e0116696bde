import pg from "pg";

/** Runs `run` on one fresh connection to `url` and closes it afterwards, whatever happens. */
export async function withAdminClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Runs one statement (CREATE/DROP DATABASE, which cannot run in a transaction) on its own connection. */
export async function runAdminQuery(url: string, text: string): Promise<void> {
  await withAdminClient(url, (client) => client.query(text));
}

/** `url` pointed at the database `name` on the same server. */
export function databaseUrl(url: string, name: string): string {
  const next = new URL(url);
  next.pathname = `/${name}`;
  return next.toString();
}
