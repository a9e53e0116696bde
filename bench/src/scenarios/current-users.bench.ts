import { sql } from "kysely";
import { createCurrentUsers } from "../../../apps/server/src/modules/auth/index.ts";
import { createLogger } from "../../../apps/server/src/platform/logger.ts";
import { createBenchDatabase } from "../bench-database.ts";
import { progress, type Scenario } from "../scenario.ts";

// What the guard's knowledge of current users costs (ADR 0009), in this process's CPU time, which a busy
// neighbour on a shared machine changes far less than it changes a rate: a miss (a user not seen before,
// read in a batch with the others of its event-loop turn, as in a join storm of distinct users) and a hit.
// Three times the cache's default bound of users, so that two thirds of the misses land in a full cache: the
// cost of forgetting (ADR 0009), which a storm of new users meets once a process has seen 100,000 of them.

const USERS = 300_000;
const CACHE_BOUND = 100_000;
const BATCH = 80; // the joins storm's client count: at most this many new users per turn
const HITS = 1_000_000;

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const currentUsers: Scenario = {
  async run() {
    progress(`current-users: ${USERS} users`);
    let ids: string[] = [];
    const database = await createBenchDatabase(ADMIN_URL, async (db) => {
      const rows = await sql<{ id: string }>`
        INSERT INTO users (id, email, name, password_hash, role)
        SELECT gen_random_uuid(), 'u' || n || '@bench.test', 'U ' || n, '-', 'user'
        FROM generate_series(1, ${USERS}::int) AS n
        RETURNING id
      `.execute(db);
      ids = rows.rows.map((row) => row.id);
      await sql`ANALYZE users`.execute(db);
    });
    const users = createCurrentUsers({
      db: database.db,
      databaseUrl: database.url,
      log: createLogger("silent"),
      maxEntries: CACHE_BOUND,
    });
    try {
      await users.settle();
      const miss = await measureMisses(users, ids.slice(0, CACHE_BOUND));
      const full = await measureMisses(users, ids.slice(CACHE_BOUND));
      // The newest half of the bound is surely still known.
      const hitNs = measureHits(users, ids.slice(-CACHE_BOUND / 2));
      return {
        scenario: "current-users",
        ...miss,
        fullMissCpuUs: full.missCpuUs,
        fullMissWallUs: full.missWallUs,
        hitNs,
        batch: BATCH,
        users: USERS,
        cacheBound: CACHE_BOUND,
      };
    } finally {
      await users.close();
      await database.drop();
    }
  },
};

async function measureMisses(users: ReturnType<typeof createCurrentUsers>, ids: string[]) {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const batchMs: number[] = [];
  for (let start = 0; start < ids.length; start += BATCH) {
    const batchStarted = performance.now();
    const standings = await Promise.all(ids.slice(start, start + BATCH).map((id) => users.load(id)));
    if (standings.some((standing) => standing === null)) throw new Error("a user was not found");
    batchMs.push(performance.now() - batchStarted);
  }
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  batchMs.sort((a, b) => a - b);
  return {
    missCpuUs: round((cpu.user + cpu.system) / ids.length),
    missWallUs: round((wallMs * 1000) / ids.length),
    batchP50Ms: round(batchMs[Math.floor(batchMs.length / 2)] ?? 0),
    batchP95Ms: round(batchMs[Math.floor(batchMs.length * 0.95)] ?? 0),
  };
}

function measureHits(users: ReturnType<typeof createCurrentUsers>, ids: string[]): number {
  let found = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < HITS; i++) if (users.cached(ids[i % ids.length] ?? "") !== undefined) found++;
  const ns = Number(process.hrtime.bigint() - started) / HITS;
  if (found !== HITS) throw new Error(`only ${found} of ${HITS} lookups were hits`);
  return round(ns);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export default currentUsers;
