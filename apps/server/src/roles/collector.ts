import type { FastifyInstance } from "fastify";
import type { Deps } from "../deps.ts";
import {
  collectorRoutes,
  openInteractionStream,
  startWriteKeys,
  warmUpCollector,
} from "../modules/interactions/index.ts";

/** What /readyz asks of the collector role beside its stream (ADR 0023). */
export interface CollectorRole {
  /** False until the warm-up has run: the process answers /readyz 503 with the problem `warm-up` meanwhile. */
  isWarm(): boolean;
}

/**
 * The collector role: the interaction ingestion routes (own format and Segment-compatible). It opens the
 * interaction stream and the in-memory write keys, and closes both when the app closes (after HTTP drained).
 * Then it warms its request path with synthetic batches that are never appended (warm-up.ts, ADR 0015).
 */
export async function registerCollectorRole(app: FastifyInstance, deps: Deps): Promise<CollectorRole> {
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
  const warmUp = warmUpCollector({ log: deps.log });
  app.addHook("onClose", async () => {
    warmUp.stop();
    await warmUp.done;
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
  return { isWarm: () => warmUp.isDone() };
}
