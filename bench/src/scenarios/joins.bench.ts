import { Agent, request as httpRequest } from "node:http";
import autocannon from "autocannon";
import { withAdminClient } from "../../../apps/server/test/admin-sql.ts";
import { measureBaseline } from "../baseline.ts";
import { createJoinsDatabase, type JoinsDatabase } from "../joins-setup.ts";
import { measureHotRowTps } from "../pgbench.ts";
import type { Scenario } from "../scenario.ts";
import { progress } from "../scenario.ts";
import { startTurnout } from "../turnout-server.ts";

/*
 * joins (issue 4): (a) 1,500 distinct users join an event of capacity 100 and waitlist 100 at the same
 * moment; (b) a storm of distinct users joining one event with a large capacity; (c) at the same client
 * count, pgbench's durable updates of one row and a bare Fastify route. Turnout runs as `npm start` would
 * in cluster mode with ROLES=api (no outbox relay competing for the two cores), on a scratch database.
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const BURST = { users: 1_500, capacity: 100, waitlistLimit: 100 };
// Every storm join needs its own user; more than this machine admits in the storm, so none repeats.
const STORM_USERS = 300_000;
// pgbench needs one PostgreSQL connection per client: stay under max_connections with the server's pool.
const CONNECTION_HEADROOM = 20;

const joins: Scenario = {
  async run({ durationS, connections }) {
    const stormS = 2 * durationS;
    const clients = Math.min(connections, (await maxConnections()) - CONNECTION_HEADROOM);
    progress(`joins: making ${STORM_USERS + BURST.users} users and their tokens`);
    const database = await createJoinsDatabase(ADMIN_URL, STORM_USERS + BURST.users);
    const server = await startTurnout(database.url).catch(async (error: unknown) => {
      await database.drop();
      throw error;
    });
    try {
      const burstTokens = database.tokens.slice(0, BURST.users);
      const stormTokens = database.tokens.slice(BURST.users);
      const burst = await runBurst(server.baseUrl, database, burstTokens);
      progress(`joins: burst exact=${burst.isExact}, p95 ${burst.p95Ms} ms`);
      const storm = await runStorm(server.baseUrl, database, stormTokens, { clients, durationS: stormS });
      progress(`joins: storm ${storm.joinsPerSec}/s, p95 ${storm.p95Ms} ms, ${storm.errors} errors`);
      await server.stop();
      const pgbenchHotRowTps = await measureHotRowTps(database.url, { clients, durationS });
      progress(`joins: pgbench hot row ${pgbenchHotRowTps} tps with ${clients} clients`);
      const baseline = await measureBaseline({ durationS, connections: clients });
      return {
        scenario: "joins",
        burstExact: burst.isExact,
        burstP95Ms: burst.p95Ms,
        joinsPerSec: storm.joinsPerSec,
        p95Ms: storm.p95Ms,
        errors: storm.errors + burst.errors,
        stormExact: storm.isExact,
        pgbenchHotRowTps,
        baselineRps: baseline.rps,
        ratioVsHotRow: round(storm.joinsPerSec / pgbenchHotRowTps),
        ratioVsBaseline: round(storm.joinsPerSec / baseline.rps),
        connections: clients,
        durationS: stormS,
      };
    } finally {
      await server.close();
      await database.drop();
    }
  },
};

export default joins;

/** 1,500 joins sent at once, each on its own connection; checks the outcome against the rows. */
async function runBurst(baseUrl: string, database: JoinsDatabase, tokens: string[]) {
  const eventId = await database.createEvent(BURST);
  // The crowd is on the event page already: its connections are open (and the load generator's cost of
  // opening 1,500 sockets at once, about a second here even against a bare server, stays out of the figure).
  // They close once the burst is over, as the crowd leaves; idle, they would slow the storm by a tenth.
  const crowd = new Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    await Promise.all(tokens.map(() => request(crowd, `${baseUrl}/healthz`, "GET", {})));
    progress(`joins: burst of ${tokens.length} at once`);
    const answers = await Promise.all(
      tokens.map(async (token) => {
        const startedAt = performance.now();
        const url = `${baseUrl}/api/events/${eventId}/join`;
        const answer = await request(crowd, url, "POST", { authorization: `Bearer ${token}` }).catch(() => ({
          status: 0,
          body: null,
        }));
        return { ...answer, ms: performance.now() - startedAt };
      }),
    );
    return await checkBurst(database, eventId, tokens.length, answers);
  } finally {
    crowd.destroy();
  }
}

async function checkBurst(
  database: JoinsDatabase,
  eventId: string,
  crowdSize: number,
  answers: { status: number; body: unknown; ms: number }[],
) {
  const count = (status: number) => answers.filter((answer) => answer.status === status).length;
  const check = await database.readEvent(eventId);
  const positions = answers
    .map((answer) => answer.body)
    .filter((body): body is { status: string; waitlistPosition: number } => isWaitlisted(body))
    .map((body) => body.waitlistPosition)
    .sort((a, b) => a - b);
  const isExact =
    count(201) === BURST.capacity + BURST.waitlistLimit &&
    count(409) === crowdSize - BURST.capacity - BURST.waitlistLimit &&
    check.confirmedCount === BURST.capacity &&
    check.confirmed.length === BURST.capacity &&
    check.waitlistedCount === BURST.waitlistLimit &&
    check.waitlisted.length === BURST.waitlistLimit &&
    positions.every((position, index) => position === index + 1);
  const errors = answers.filter((answer) => answer.status !== 201 && answer.status !== 409).length;
  const times = answers.map((answer) => answer.ms);
  progress(
    `joins: burst answered in p50 ${percentile(times, 0.5)} ms, max ${percentile(times, 1)} ms; ` +
      `${count(201)} x 201, ${count(409)} x 409`,
  );
  return { isExact, errors, p95Ms: percentile(times, 0.95) };
}

/** Distinct users join one event of large capacity for `durationS`; every answer must be a new seat. */
async function runStorm(
  baseUrl: string,
  database: JoinsDatabase,
  tokens: string[],
  { clients, durationS }: { clients: number; durationS: number },
) {
  const eventId = await database.createEvent({ capacity: 1_000_000, waitlistLimit: 0 });
  progress(`joins: storm of distinct users, ${clients} connections for ${durationS} s`);
  let next = 0;
  const latencies: number[] = [];
  let created = 0;
  const options: autocannon.Options = {
    url: `${baseUrl}/api/events/${eventId}/join`,
    method: "POST",
    connections: clients,
    duration: durationS,
    requests: [
      {
        setupRequest: (request) => {
          const token = tokens[next++];
          if (token === undefined) throw new Error(`the storm used up its ${tokens.length} users`);
          return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
        },
      },
    ],
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error: unknown, finished: autocannon.Result) => {
      if (error === null || error === undefined) resolve(finished);
      else reject(error instanceof Error ? error : new Error("autocannon failed"));
    });
    instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
      latencies.push(responseTimeMs);
      if (statusCode === 201) created++;
    });
  });
  const check = await database.readEvent(eventId);
  // Joins still in flight when the storm stopped are decided without anyone listening: the rows may
  // outnumber the 201s seen, never the requests sent, and the counter must equal the rows.
  const isExact =
    check.confirmedCount === check.rows &&
    check.confirmed.length === check.rows &&
    created <= check.rows &&
    check.rows <= next;
  progress(
    `joins: storm sent ${next}, ${created} x 201 of ${latencies.length} answers; ` +
      `${check.rows} rows, counter ${check.confirmedCount}`,
  );
  return {
    joinsPerSec: Math.round(latencies.length / durationS),
    p95Ms: percentile(latencies, 0.95),
    errors: result.errors + (latencies.length - created),
    isExact,
  };
}

function isWaitlisted(body: unknown): body is { status: string; waitlistPosition: number } {
  return (
    typeof body === "object" &&
    body !== null &&
    "status" in body &&
    body.status === "waitlisted" &&
    "waitlistPosition" in body &&
    typeof body.waitlistPosition === "number"
  );
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
  return Math.round(value * 10) / 10;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

async function maxConnections(): Promise<number> {
  const result = await withAdminClient(ADMIN_URL, (client) =>
    client.query<{ max_connections: string }>("SHOW max_connections"),
  );
  return Number(result.rows[0]?.max_connections ?? 100);
}

/** One HTTP request on `agent`'s connections; resolves with the status and the parsed JSON body. */
function request(
  agent: Agent,
  url: string,
  method: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest(url, { agent, method, headers }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        try {
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      response.on("error", reject);
    });
    sent.on("error", reject);
    sent.end();
  });
}
