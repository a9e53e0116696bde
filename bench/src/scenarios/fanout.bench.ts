import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Scenario } from "../scenario.ts";
import { progress } from "../scenario.ts";
import { createBenchDatabase } from "../bench-database.ts";
import { startTurnout } from "../turnout-server.ts";

/*
 * fanout (issue 11): CLIENTS WebSocket clients (default 10,000) watch one event channel on one gateway process;
 * UPDATES edits of the event go the real path (HTTP PATCH -> outbox -> relay -> bus -> sequencer -> gateway) and
 * every client times each from the edit's commit (the event's updatedAt) to receipt. Then every connection is
 * dropped and all reconnect and resume at once (the storm); one more edit must reach all of them. Memory per
 * connection is the gateway's RSS (process_resident_memory_bytes) before and after connecting. The load
 * generator runs in its own process. Not measured here: two gateway processes behind NATS (needs a domain stream
 * of its own on a shared NATS server; the two-node behaviour is covered by realtime-nats.int.test.ts).
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const CLIENTS = Number(process.env.BENCH_FANOUT_CLIENTS ?? 10_000);
const UPDATES = Number(process.env.BENCH_FANOUT_UPDATES ?? 20);

const fanout: Scenario = {
  async run() {
    const database = await createBenchDatabase(ADMIN_URL, () => Promise.resolve());
    const server = await startTurnout(database.url, {
      ROLES: "api,realtime,worker",
      RATE_LIMIT_REQUESTS: "0",
      REALTIME_CONNECTIONS_PER_MINUTE: "0",
      OUTBOX_POLL_MS: "100",
    });
    const generator = await startGenerator();
    try {
      const token = await register(server.baseUrl);
      const eventId = await createPublishedEvent(server.baseUrl, token);
      const wsUrl = `${server.baseUrl.replace("http", "ws")}/api/realtime`;
      const rssBefore = await residentBytes(server.baseUrl);
      progress(`fanout: connecting ${CLIENTS} clients`);
      const connect = (await generator.ask({
        cmd: "connect",
        url: wsUrl,
        channel: `event:${eventId}`,
        clients: CLIENTS,
      })) as {
        connected: number;
        ms: number;
      };
      progress(`fanout: ${connect.connected} connected in ${connect.ms} ms`);
      const rssAfter = await residentBytes(server.baseUrl);
      const startedAt = Date.now();
      for (let i = 1; i <= UPDATES; i++) await patch(server.baseUrl, token, eventId, `Fanout ${i}`);
      const report = await waitForAll(generator, connect.connected * UPDATES);
      const seconds = (Date.now() - startedAt - report.waitedExtraMs) / 1000;
      progress(`fanout: ${report.received} delivered, p99 ${report.p99Ms} ms`);
      const storm = (await generator.ask({ cmd: "storm" })) as { ms: number; resubscribed: number };
      progress(`fanout: storm ${storm.ms} ms, ${storm.resubscribed} resubscribed`);
      await patch(server.baseUrl, token, eventId, "After the storm");
      const final = await waitForAll(generator, connect.connected * (UPDATES + 1));
      return {
        scenario: "fanout",
        clients: connect.connected,
        updates: UPDATES,
        p50Ms: report.p50Ms ?? -1,
        p99Ms: report.p99Ms ?? -1,
        deliveredPerSec: Math.round(report.received / seconds),
        lost: connect.connected * (UPDATES + 1) - final.received,
        duplicates: final.duplicates,
        rssPerConnKiB: Math.round((rssAfter - rssBefore) / 1024 / Math.max(1, connect.connected)),
        twoNodeP99Ms: "not measured",
        reconnectStormSec: storm.ms / 1000,
        stormResubscribed: storm.resubscribed,
        connectSec: connect.ms / 1000,
      };
    } finally {
      generator.stop();
      await server.close();
      await database.drop();
    }
  },
};

export default fanout;

interface Report {
  received: number;
  duplicates: number;
  p50Ms: number | null;
  p99Ms: number | null;
  waitedExtraMs: number;
}

// Polls the generator until `expected` messages arrived or 30 s passed; the last poll's wait is not counted.
async function waitForAll(generator: Generator, expected: number): Promise<Report> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const polledAt = Date.now();
    const report = (await generator.ask({ cmd: "report" })) as Omit<Report, "waitedExtraMs">;
    if (report.received >= expected || Date.now() > deadline)
      return { ...report, waitedExtraMs: Date.now() - polledAt };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Generator {
  ask(command: object): Promise<unknown>;
  stop(): void;
}

async function startGenerator(): Promise<Generator> {
  const child: ChildProcess = fork(join(import.meta.dirname, "../fanout-clients.ts"), [], {
    execArgv: ["--import", "tsx", "--max-old-space-size=4096"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await new Promise<void>((resolve) =>
    child.once("message", () => {
      resolve();
    }),
  );
  return {
    ask: (command) =>
      new Promise((resolve) => {
        child.once("message", resolve);
        child.send(command);
      }),
    stop: () => child.kill("SIGKILL"),
  };
}

async function register(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      email: "organizer@bench.test",
      name: "Bench Organizer",
      password: "bench password 123",
    }),
  });
  if (response.status !== 201) throw new Error(`register: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

async function createPublishedEvent(baseUrl: string, token: string): Promise<string> {
  const startsAt = new Date(Date.now() + 86_400_000);
  const created = await call(baseUrl, token, "POST", "/api/events", {
    title: "Fanout",
    startsAt: startsAt.toISOString(),
    endsAt: new Date(startsAt.getTime() + 7_200_000).toISOString(),
    timezone: "Europe/Berlin",
    venue: { name: "Hall", address: "Street 1" },
    category: "tech",
    capacity: 100,
  });
  const { id } = created as { id: string };
  await call(baseUrl, token, "POST", `/api/events/${id}/publish`);
  return id;
}

async function patch(baseUrl: string, token: string, eventId: string, title: string): Promise<void> {
  await call(baseUrl, token, "PATCH", `/api/events/${eventId}`, { title });
}

async function call(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: object,
): Promise<unknown> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function residentBytes(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split("\n").find((entry) => entry.startsWith("process_resident_memory_bytes "));
  return Number(line?.split(" ")[1] ?? 0);
}
