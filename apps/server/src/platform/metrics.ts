import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** One Prometheus registry per app instance, so tests can build many apps in one process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request latency by method, route and status code",
    labelNames: ["method", "route", "status_code"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const outboxBacklog = new Gauge({
    name: "outbox_backlog",
    help: "Outbox rows not yet published to the bus (as last seen by this process's relay)",
    registers: [registry],
  });
  // Counted on scrape from the job tables; createJobQueue plugs in the reader (until then both read 0).
  const jobStats = { read: () => Promise.resolve({ queued: 0, dead: 0 }) };
  const jobQueueDepth = new Gauge({
    name: "job_queue_depth",
    help: "Background jobs waiting to run (new or waiting for a retry)",
    registers: [registry],
    async collect() {
      this.set((await jobStats.read()).queued);
    },
  });
  const jobsDead = new Gauge({
    name: "jobs_dead",
    help: "Background jobs that used up their retries and wait for an admin",
    registers: [registry],
    async collect() {
      this.set((await jobStats.read()).dead);
    },
  });
  const joins = new Counter({
    name: "joins_total",
    help: "Join decisions by outcome: confirmed, waitlisted, already (held a place), full, closed, forbidden",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const interactions = new Counter({
    name: "interactions_total",
    help: "Interactions by stage: accepted (202 by a collector), rejected (invalid item), loaded (stored by the processor), dead (dead-lettered)",
    labelNames: ["stage"] as const,
    registers: [registry],
  });
  return { registry, httpDuration, outboxBacklog, jobStats, jobQueueDepth, jobsDead, joins, interactions };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** Times every request by its route pattern (never the raw URL, which would explode cardinality). */
export function installHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.httpDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
