// The interactions module's only door (ADR 0015): the collector, the sources admin, the processor, the
// analytics queries and the dashboard tick. It owns sources, interaction_batches, interactions,
// interactions_dead and the rollups (interaction_rollups, interaction_rollup_members, interaction_rollup_hours,
// interaction_rollup_pending).
import type { Deps } from "../../deps.ts";
import { createDb } from "../../platform/db.ts";
import { openInteractionStream } from "./interaction-stream.ts";
import { startProcessor, type Processor } from "./processor.ts";

export { collectorRoutes, isCollectorRequest } from "./collector.routes.ts";
export type { CollectorOptions } from "./collector.routes.ts";
export { openInteractionStream };
export type { InteractionStream } from "./interaction-stream.ts";
export { sourcesRoutes } from "./sources.routes.ts";
export type { SourcesOptions } from "./sources.routes.ts";
export { BUILTIN_SOURCE_ID } from "./sources.repo.ts";
export { startWriteKeys } from "./write-keys.ts";
export { warmUpCollector } from "./warm-up.ts";
export type { WarmUp, WarmUpReport } from "./warm-up.ts";
export type { WriteKeys } from "./write-keys.ts";
export { maintainPartitions } from "./processor.ts";
export { ROLLUP_CRON, rollUpInteractions, startInteractionRollups } from "./rollups.job.ts";

/**
 * Starts the interaction processor of the worker role on a pool and a stream connection of its own; stop()
 * finishes the load under way, then closes both.
 */
export async function startInteractionProcessor(
  deps: Pick<Deps, "config" | "db" | "databaseUrl" | "log" | "metrics" | "clock">,
): Promise<Processor> {
  const { analytics } = deps.config;
  const { pool, close: closePool } = createDb(deps.databaseUrl, { maxConnections: 2 });
  const stream = await openInteractionStream({
    natsUrl: deps.config.natsUrl,
    streamName: analytics.streamName,
    maxBacklog: analytics.maxBacklogBatches,
    maxBacklogMs: analytics.maxBacklogMs,
    replicas: deps.config.bus.streamReplicas,
    db: deps.db,
    log: deps.log,
  });
  const processor = await startProcessor({
    stream,
    pool,
    metrics: deps.metrics,
    log: deps.log,
    clock: deps.clock,
    retentionDays: analytics.retentionDays,
  }).catch(async (error: unknown) => {
    await stream.close();
    await closePool();
    throw error;
  });
  return {
    async stop() {
      await processor.stop();
      await stream.close();
      await closePool();
    },
  };
}
export { analyticsRoutes } from "./analytics.routes.ts";
export type { AnalyticsOptions } from "./analytics.routes.ts";
export { computeAnalyticsTick } from "./analytics.repo.ts";
