import { once } from "node:events";
import { readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDataDir,
  findFreePort,
  type ServerProcess,
  startServer,
} from "../../../../../e2e/support/server-process.ts";
import { createTestApp, TEST_SECRETS, type TestApp } from "../../../test/app.ts";
import { createPublished } from "../../../test/events.support.ts";
import { createUser, type CreatedUser } from "../../../test/factories.ts";

/*
 * The real server process, started as the image starts it, with tracing on and pointed at a real OTLP/HTTP
 * receiver (JSON): a join must arrive as a server span named after its route, carrying the request id, with
 * the PostgreSQL queries it made as its children. With tracing off, no OpenTelemetry module may load.
 */

const RECORDER = resolve(import.meta.dirname, "../../../test/record-loaded-modules.preload.mjs");

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: OtlpValue }[];
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: OtlpValue }[] };
    scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
  }[];
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

/** A collector's OTLP/HTTP traces endpoint, in JSON: keeps every span it is sent. */
async function startOtlpReceiver(): Promise<{
  url: string;
  spans: OtlpSpan[];
  services: Set<string>;
  bytes: { total: number };
  server: Server;
}> {
  const spans: OtlpSpan[] = [];
  const bytes = { total: 0 };
  const services = new Set<string>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.method !== "POST" || request.url !== "/v1/traces") {
        response.writeHead(404).end();
        return;
      }
      expect(request.headers["content-type"]).toBe("application/json");
      const raw = Buffer.concat(chunks);
      bytes.total += raw.length;
      const body = JSON.parse(raw.toString("utf8")) as OtlpExport;
      for (const resourceSpans of body.resourceSpans) {
        services.add(attribute(resourceSpans.resource, "service.name") ?? "");
        for (const scopeSpans of resourceSpans.scopeSpans) spans.push(...scopeSpans.spans);
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, services, bytes, server };
}

function attribute(
  holder: { attributes: { key: string; value: OtlpValue }[] },
  key: string,
): string | undefined {
  const value = holder.attributes.find((entry) => entry.key === key)?.value;
  if (value === undefined) return undefined;
  return value.stringValue ?? (value.intValue === undefined ? undefined : String(value.intValue));
}

async function waitFor<T>(find: () => T | undefined, what: string, deadlineMs = 10_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${deadlineMs} ms`);
    await sleep(50);
  }
}

let t: TestApp;
let organizer: CreatedUser;
let dataDir: string;
const servers: ServerProcess[] = [];

async function startRecordedServer(name: string, env: Record<string, string>): Promise<ServerProcess> {
  const server = startServer({
    name,
    port: await findFreePort(),
    dataDir,
    env: {
      ...TEST_SECRETS,
      DATABASE_URL: t.database.url,
      ROLES: "api",
      LOG_LEVEL: "warn",
      NODE_OPTIONS: `--import=${RECORDER}`,
      LOADED_MODULES_FILE: join(dataDir, `${name}.modules`),
      ...env,
    },
  });
  servers.push(server);
  return server;
}

async function loadedModules(name: string): Promise<string[]> {
  return (await readFile(join(dataDir, `${name}.modules`), "utf8")).split("\n").filter(Boolean);
}

const OTEL_MODULE = /\/node_modules\/(@opentelemetry|import-in-the-middle|require-in-the-middle)\//;

beforeAll(async () => {
  t = await createTestApp();
  organizer = await createUser(t);
  dataDir = await createDataDir("tracing");
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.forceStop()));
  await rm(dataDir, { recursive: true, force: true });
  await t.close();
});

describe("OpenTelemetry tracing", () => {
  it("exports a join as a server span named by its route, with its request id and its queries as children", async () => {
    const receiver = await startOtlpReceiver();
    try {
      const server = await startRecordedServer("traced", {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "turnout-traced",
        OTEL_BSP_SCHEDULE_DELAY: "100",
      });
      await server.waitUntilReady(30_000);
      const event = await createPublished(t, organizer, { capacity: 5 });
      const guests = [await createUser(t), await createUser(t)];
      for (const guest of guests) {
        const response = await fetch(`${server.baseUrl}/api/events/${event.id}/join`, {
          method: "POST",
          headers: { authorization: `Bearer ${guest.accessToken}` },
        });
        expect(response.status).toBe(201);
      }

      const joins = await waitFor(() => {
        const found = receiver.spans.filter((span) => span.name === "POST /api/events/:id/join");
        return found.length === 2 ? found : undefined;
      }, "two join spans");
      const requestIds = new Set<string | undefined>();
      for (const join of joins) {
        expect(join.kind).toBe(SPAN_KIND_SERVER);
        expect(join.parentSpanId ?? "").toBe("");
        expect(attribute(join, "http.route")).toBe("/api/events/:id/join");
        expect(attribute(join, "http.response.status_code") ?? attribute(join, "http.status_code")).toBe(
          "201",
        );
        requestIds.add(attribute(join, "turnout.request_id"));
        const queries = await waitFor(() => {
          const children = receiver.spans.filter(
            (span) => span.parentSpanId === join.spanId && span.kind === SPAN_KIND_CLIENT,
          );
          return children.some((span) => /admit_joins/.test(JSON.stringify(span.attributes)))
            ? children
            : undefined;
        }, "pg span calling admit_joins under the join span");
        for (const query of queries) {
          expect(query.traceId).toBe(join.traceId);
          expect(attribute(query, "db.system") ?? attribute(query, "db.system.name")).toBe("postgresql");
        }
      }
      expect(requestIds.size).toBe(2);
      const spansPerJoin = joins.map(
        (join) => receiver.spans.filter((span) => span.traceId === join.traceId).length,
      );
      console.log(
        `tracing: spans per join ${spansPerJoin.join(", ")}; ${receiver.spans.length} spans in ` +
          `${receiver.bytes.total} bytes of OTLP JSON (${Math.round(receiver.bytes.total / receiver.spans.length)} per span)`,
      );
      for (const id of requestIds) expect(id).toMatch(/^req-/);
      expect(receiver.services).toEqual(new Set(["turnout-traced"]));

      // Probes are not traced, and no query is a trace of its own (background work has no parent span).
      expect(receiver.spans.filter((span) => /healthz|readyz|metrics/.test(span.name))).toEqual([]);
      const rootQueries = receiver.spans.filter(
        (span) => span.kind === SPAN_KIND_CLIENT && (span.parentSpanId ?? "") === "",
      );
      expect(rootQueries.map((span) => span.name)).toEqual([]);

      // The recorder sees OpenTelemetry load when it does: the other test's empty list means something.
      expect((await loadedModules("traced")).filter((url) => OTEL_MODULE.test(url)).length).toBeGreaterThan(
        5,
      );
      await server.stop(15_000);
    } finally {
      receiver.server.close();
    }
  }, 60_000);

  it("loads no OpenTelemetry module when OTEL_EXPORTER_OTLP_ENDPOINT is unset", async () => {
    const server = await startRecordedServer("untraced", {});
    await server.waitUntilReady(30_000);
    const event = await createPublished(t, organizer, { capacity: 5 });
    const guest = await createUser(t);
    const response = await fetch(`${server.baseUrl}/api/events/${event.id}/join`, {
      method: "POST",
      headers: { authorization: `Bearer ${guest.accessToken}` },
    });
    expect(response.status).toBe(201);
    await server.stop(15_000);

    const modules = await loadedModules("untraced");
    expect(modules.some((url) => url.endsWith("/apps/server/src/tracing.ts"))).toBe(true);
    expect(modules.some((url) => url.includes("/node_modules/fastify/"))).toBe(true);
    expect(modules.filter((url) => OTEL_MODULE.test(url) || url.includes("/platform/tracing/"))).toEqual([]);
  }, 60_000);
});
