import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sql } from "kysely";
import { createDb } from "../../apps/server/src/platform/db.ts";

const run = promisify(execFile);

/**
 * The physical reference of one-transaction-per-join: `pgbench` with `clients` clients doing durable
 * single-row updates of ONE row (each an autocommit transaction that waits for its WAL flush) for
 * `durationS` seconds against `databaseUrl`. Returns transactions per second.
 */
export async function measureHotRowTps(
  databaseUrl: string,
  { clients, durationS }: { clients: number; durationS: number },
): Promise<number> {
  const { db, close } = createDb(databaseUrl, 1);
  try {
    await sql`CREATE TABLE bench_hot_row (id int PRIMARY KEY, n bigint NOT NULL)`.execute(db);
    await sql`INSERT INTO bench_hot_row VALUES (1, 0)`.execute(db);
  } finally {
    await close();
  }
  const script = join(tmpdir(), `turnout-hot-row-${process.pid}.sql`);
  await writeFile(script, "UPDATE bench_hot_row SET n = n + 1 WHERE id = 1;\n");
  const { stdout } = await run(
    "pgbench",
    [
      "--no-vacuum",
      `--client=${clients}`,
      "--jobs=2",
      `--time=${durationS}`,
      `--file=${script}`,
      databaseUrl,
    ],
    { maxBuffer: 1 << 20 },
  );
  const tps = /tps = ([0-9.]+) \(without initial connection time\)/.exec(stdout)?.[1];
  if (tps === undefined) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return Math.round(Number(tps));
}
