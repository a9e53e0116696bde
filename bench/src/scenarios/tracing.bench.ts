import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { measureHttp } from "../http-load.ts";
import { createReadDatabase } from "../read-setup.ts";
import type { Scenario } from "../scenario.ts";
import { progress } from "../scenario.ts";
import { startTurnout } from "../turnout-server.ts";

/*
 * tracing (ADR 0023): what OpenTelemetry costs. The event page (READ_CACHE_MS=0: PostgreSQL on every request)
 * driven with tracing off and on, twice each, alternating, against a local OTLP/HTTP sink that accepts and
 * counts the spans. Beside requests/s (which load on the machine moves), the server's CPU time per request
 * from /proc, which it moves much less.
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const EVENT_COUNT = 2_000;
const WARMUP_S = 2;
const CLOCK_TICKS_PER_S = 100;

interface Run {
  rps: number;
  p99Ms: number;
  cpuUsPerRequest: number;
}

const tracing: Scenario = {
  async run({ durationS, connections }) {
    const sink = await startOtlpSink();
    const database = await createReadDatabase(ADMIN_URL, EVENT_COUNT);
    try {
      const runs: Record<"off" | "on", Run[]> = { off: [], on: [] };
      let spansWhileOn = 0;
      let requestsWhileOn = 0;
      for (const mode of ["off", "on", "off", "on"] as const) {
        const server = await startTurnout(database.url, {
          RATE_LIMIT_REQUESTS: "0",
          READ_CACHE_MS: "0",
          OTEL_EXPORTER_OTLP_ENDPOINT: mode === "on" ? sink.url : "",
          OTEL_BSP_MAX_QUEUE_SIZE: "100000",
        });
        try {
          const url = `${server.baseUrl}/api/events/${database.eventId}`;
          await measureHttp(url, { durationS: WARMUP_S, connections });
          const spansBefore = sink.counts.spans;
          const cpuBefore = await cpuTicks(server.pid);
          const load = await measureHttp(url, { durationS, connections });
          const cpuMs = ((await cpuTicks(server.pid)) - cpuBefore) * (1000 / CLOCK_TICKS_PER_S);
          await server.stop();
          const run = {
            rps: load.rps,
            p99Ms: load.p99Ms,
            cpuUsPerRequest: Math.round((cpuMs * 1000) / load.requests),
          };
          runs[mode].push(run);
          if (mode === "on") {
            spansWhileOn += sink.counts.spans - spansBefore;
            requestsWhileOn += load.requests;
          }
          progress(
            `tracing ${mode}: ${run.rps} req/s, p99 ${run.p99Ms} ms, ${run.cpuUsPerRequest} µs CPU/request`,
          );
        } finally {
          await server.close();
        }
      }
      const mean = (list: Run[], key: keyof Run) =>
        list.reduce((sum, run) => sum + run[key], 0) / list.length;
      const percentMore = (on: number, off: number) => Math.round(((on - off) / off) * 1000) / 10;
      return {
        scenario: "tracing",
        offRps: Math.round(mean(runs.off, "rps")),
        onRps: Math.round(mean(runs.on, "rps")),
        rpsLossPercent: -percentMore(mean(runs.on, "rps"), mean(runs.off, "rps")),
        offCpuUsPerRequest: Math.round(mean(runs.off, "cpuUsPerRequest")),
        onCpuUsPerRequest: Math.round(mean(runs.on, "cpuUsPerRequest")),
        cpuMorePercent: percentMore(mean(runs.on, "cpuUsPerRequest"), mean(runs.off, "cpuUsPerRequest")),
        offP99Ms: Math.max(...runs.off.map((run) => run.p99Ms)),
        onP99Ms: Math.max(...runs.on.map((run) => run.p99Ms)),
        // Spans that reached the sink by each run's end (the last batch may still be on its way).
        spansPerRequest: Math.round((spansWhileOn / requestsWhileOn) * 100) / 100,
        connections,
        durationS,
      };
    } finally {
      await database.drop();
      sink.close();
    }
  },
};

export default tracing;

/** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** An OTLP/HTTP (JSON) traces endpoint on 127.0.0.1 that answers 200 and counts what it gets. */
async function startOtlpSink(): Promise<{ url: string; counts: { spans: number }; close(): void }> {
  const counts = { spans: 0 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      counts.spans += (
        Buffer.concat(chunks)
          .toString("utf8")
          .match(/"spanId"/g) ?? []
      ).length;
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, counts, close: () => server.close() };
}
