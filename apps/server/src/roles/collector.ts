import type { FastifyInstance } from "fastify";
import type { Deps } from "../deps.ts";
import { collectorRoutes, openInteractionStream, startWriteKeys } from "../modules/interactions/index.ts";

/**
 * The collector role: the interaction ingestion routes (own format and Segment-compatible). It opens the
 * interaction stream and the in-memory write keys, and closes both when the app closes (after HTTP drained).
 */
export async function registerCollectorRole(app: FastifyInstance, deps: Deps): Promise<void> {
  const { analytics } = deps.config;
  const writeKeys = await startWriteKeys(deps.db, deps.log, analytics.sourcesRefreshMs);
  const stream = await openInteractionStream({
    natsUrl: deps.config.natsUrl,
    streamName: analytics.streamName,
    maxBacklog: analytics.maxBacklogBatches,
    maxBacklogMs: analytics.maxBacklogMs,
    replicas: deps.config.bus.streamReplicas,
    db: deps.db,
    log: deps.log,
  }).catch((error: unknown) => {
    writeKeys.stop();
    throw error;
  });
  app.addHook("onClose", async () => {
    writeKeys.stop();
    await stream.close();
  });
  await app.register(collectorRoutes, {
    stream,
    writeKeys,
    metrics: deps.metrics,
    clock: deps.clock,
    requestsPerSourcePerMinute: deps.config.rateLimits.collectPerSource,
  });
}
