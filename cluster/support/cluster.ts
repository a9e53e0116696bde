import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { rm } from "node:fs/promises";
import { systemClock } from "../../apps/server/src/platform/clock.ts";
import { createDb, type Db } from "../../apps/server/src/platform/db.ts";
import { createUsersFast } from "../../apps/server/test/factories.ts";
import { deleteNatsStream, TEST_NATS_URL } from "../../apps/server/test/nats.ts";
import {
  createScratchDatabase,
  TEST_CLUSTER_SECRETS,
  type ScratchDatabase,
} from "../../e2e/support/scratch-database.ts";
import {
  createDataDir,
  findFreePort,
  startServer,
  type ServerProcess,
} from "../../e2e/support/server-process.ts";
import { startProxy, type RoundRobinProxy } from "./proxy.ts";

/*
 * Turnout as a cluster of real processes on one machine (ADR 0023): two api+realtime nodes, one collector
 * and one worker, each `node apps/server/src/main.ts` on its own port, on one scratch database and one NATS,
 * with stream and subject names of their own so parallel runs on a shared NATS never meet, and a round-robin
 * proxy in front.
 */

export type NodeName = "a" | "b" | "collector" | "worker";

const ROLES: Record<NodeName, string> = {
  a: "api,realtime",
  b: "api,realtime",
  collector: "collector",
  worker: "worker",
};

// A loaded 2-core machine starts a tsx server in seconds; a restart after a crash takes as long.
const START_DEADLINE_MS = 90_000;

export interface Cluster {
  proxy: RoundRobinProxy;
  /** The scratch database, read directly to check rows. */
  db: Db;
  /** http://127.0.0.1:<port> of one node. */
  url(name: NodeName): string;
  port(name: NodeName): number;
  /** SIGKILLs a node: no shutdown step runs. */
  crash(name: NodeName): Promise<void>;
  /** Starts a node again (after a crash) and waits until its /readyz answers 200. */
  restart(name: NodeName): Promise<number>;
  /** Users with access tokens the nodes accept; `role` set in the database (the guard reads it from there). */
  createUsers(
    count: number,
    role?: "user" | "admin",
  ): Promise<{ user: { id: string }; accessToken: string }[]>;
  /** How long each node took from spawn to ready, in ms. */
  startupMs: Record<NodeName, number>;
  stop(): Promise<void>;
}

export async function startCluster(options: {
  adminUrl: string;
  natsUrl: string;
  /** Settings every node gets besides the cluster's own (for example SMTP_URL). */
  env?: Record<string, string>;
}): Promise<Cluster> {
  const tag = randomBytes(5).toString("hex");
  const database: ScratchDatabase = await createScratchDatabase(options.adminUrl);
  const dataDir = await createDataDir("cluster");
  const names = {
    DOMAIN_STREAM: `CLUSTER_${tag}`,
    DOMAIN_SUBJECT_PREFIX: `c${tag}_domain`,
    REALTIME_SUBJECT_PREFIX: `c${tag}_rt`,
    INTERACTIONS_STREAM: `c${tag}_interactions`,
  };
  const env = {
    ...TEST_CLUSTER_SECRETS,
    ...names,
    DATABASE_URL: database.url,
    NATS_URL: options.natsUrl,
    OUTBOX_POLL_MS: "200",
    READ_CACHE_MS: "0",
    SOURCES_REFRESH_MS: "200",
    SHUTDOWN_GRACE_MS: "0",
    // The test's own crowds come from one address: the per-address limits have their own tests.
    RATE_LIMIT_REQUESTS: "0",
    RATE_LIMIT_REGISTRATIONS: "0",
    REALTIME_CONNECTIONS_PER_MINUTE: "0",
    ...options.env,
  };
  const ports = {} as Record<NodeName, number>;
  for (const name of Object.keys(ROLES) as NodeName[]) ports[name] = await findFreePort();
  const servers = new Map<NodeName, ServerProcess>();
  const spawnNode = (name: NodeName) => {
    const server = startServer({
      name: `cluster-${name}`,
      port: ports[name],
      dataDir,
      env: { ...env, ROLES: ROLES[name] },
    });
    servers.set(name, server);
    return server.waitUntilReady(START_DEADLINE_MS);
  };
  const { db, close: closeDb } = createDb(database.url, 4);
  const startupMs = {} as Record<NodeName, number>;
  const proxy = await startProxy({ nodes: [ports.a, ports.b], collector: ports.collector });

  const stop = async () => {
    await proxy.close();
    await Promise.all([...servers.values()].map((server) => server.forceStop()));
    await closeDb();
    await database.drop();
    if (options.natsUrl === TEST_NATS_URL) {
      for (const stream of [names.DOMAIN_STREAM, names.INTERACTIONS_STREAM]) {
        await deleteNatsStream(stream, { ifExists: true });
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    // The worker first: it migrates the empty database, so the others start on a current schema.
    startupMs.worker = await spawnNode("worker");
    const others = ["a", "b", "collector"] as const;
    const times = await Promise.all(others.map((name) => spawnNode(name)));
    others.forEach((name, index) => (startupMs[name] = times[index] ?? 0));
  } catch (error) {
    await stop();
    throw error;
  }

  const serverOf = (name: NodeName) => {
    const server = servers.get(name);
    if (server === undefined) throw new Error(`no node ${name}`);
    return server;
  };
  return {
    proxy,
    db,
    startupMs,
    url: (name) => serverOf(name).baseUrl,
    port: (name) => ports[name],
    crash: (name) => serverOf(name).crash(),
    restart: (name) => spawnNode(name),
    createUsers: async (count, role = "user") => {
      const users = await createUsersFast(
        {
          deps: {
            db,
            clock: systemClock,
            secrets: {
              tokenSecret: TEST_CLUSTER_SECRETS.TOKEN_SECRET,
              ticketSecret: TEST_CLUSTER_SECRETS.TICKET_SECRET,
              urlSigningSecret: TEST_CLUSTER_SECRETS.URL_SIGNING_SECRET,
            },
          },
        },
        count,
      );
      if (role !== "user") {
        const ids = users.map(({ user }) => user.id);
        await db.updateTable("users").set({ role }).where("id", "in", ids).execute();
      }
      return users;
    },
    stop,
  };
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
}

/** One JSON request to `baseUrl`; the body parsed when there is one. */
export async function call<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Answer<T>> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, body: (text === "" ? null : JSON.parse(text)) as T };
}

/** Creates and publishes an event with `capacity` seats through `baseUrl`; returns its id. */
export async function createPublishedEvent(
  baseUrl: string,
  token: string,
  capacity: number,
): Promise<string> {
  const startsAt = new Date(Date.now() + 48 * 3_600_000);
  const created = await call<{ id: string }>(baseUrl, "POST", "/api/events", {
    token,
    body: {
      title: "Cluster meetup",
      description: "Held on several nodes.",
      startsAt: startsAt.toISOString(),
      endsAt: new Date(startsAt.getTime() + 2 * 3_600_000).toISOString(),
      timezone: "Europe/Berlin",
      venue: { name: "Hall 5", address: "Main street 1, Berlin" },
      category: "tech",
      tags: ["cluster"],
      capacity,
    },
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  const published = await call(baseUrl, "POST", `/api/events/${created.body.id}/publish`, { token });
  if (published.status !== 200)
    throw new Error(`publish: ${published.status} ${JSON.stringify(published.body)}`);
  return created.body.id;
}

/** Outbox rows not yet published on the bus. */
export async function countUnsentOutbox(db: Db): Promise<number> {
  const row = await db
    .selectFrom("outbox")
    .select(sql<number>`count(*)::int`.as("count"))
    .where("sent_at", "is", null)
    .executeTakeFirstOrThrow();
  return row.count;
}
