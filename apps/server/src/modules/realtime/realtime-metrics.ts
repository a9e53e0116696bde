import { Counter, Gauge, Histogram, type Registry } from "prom-client";

const registered = new WeakMap<Registry, RealtimeMetrics>();

/**
 * The gateway's Prometheus series (names fixed: dashboards and alerts use them). Apps that share one registry
 * (tests building several on one Metrics) share the series too.
 */
export function createRealtimeMetrics(registry: Registry): RealtimeMetrics {
  const existing = registered.get(registry);
  if (existing !== undefined) return existing;
  const metrics = buildRealtimeMetrics(registry);
  registered.set(registry, metrics);
  return metrics;
}

function buildRealtimeMetrics(registry: Registry) {
  return {
    connections: new Gauge({
      name: "realtime_connections",
      help: "Open real-time connections (WebSocket and SSE) on this process",
      registers: [registry],
    }),
    subscriptions: new Gauge({
      name: "realtime_subscriptions",
      help: "Channel subscriptions of the open real-time connections on this process",
      registers: [registry],
    }),
    messagesOut: new Counter({
      name: "realtime_messages_out_total",
      help: "Channel messages sent to clients (replays included)",
      registers: [registry],
    }),
    slowClientsDropped: new Counter({
      name: "realtime_slow_clients_dropped_total",
      help: "Connections closed because their send buffer passed the limit",
      registers: [registry],
    }),
    busLag: new Histogram({
      name: "bus_lag_seconds",
      help: "Time from the outbox commit of a domain message to its arrival at this gateway",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
export type RealtimeMetrics = ReturnType<typeof buildRealtimeMetrics>;
