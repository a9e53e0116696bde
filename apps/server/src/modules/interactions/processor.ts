import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { Clock } from "../../platform/clock.ts";
import type { Logger } from "../../platform/logger.ts";
import type { Metrics } from "../../platform/metrics.ts";
import type { InteractionStream } from "./interaction-stream.ts";
import { loadBatches, type LoadResult } from "./interactions-load.ts";

/** Batches taken per load transaction: bigger COPYs, fewer commits. */
const BATCHES_PER_LOAD = 64;
const WAIT_FOR_BATCHES_MS = 200;
/** Load transactions under way at once, each on its own session of the processor's pool. */
const PARALLEL_LOADS = 3;
const RETRY_PAUSE_MS = 1_000;
const MAINTENANCE_EVERY_MS = 60 * 60_000;
/** Day partitions created ahead of today, so the hot path never creates one. */
const DAYS_AHEAD = 7;
const DAY_MS = 86_400_000;

export interface ProcessorOptions {
  stream: InteractionStream;
  /** A pool of its own (COPY needs a raw session; the serving pool's statement timeout would cut it). */
  pool: pg.Pool;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  retentionDays: number;
}

export interface Processor {
  /** Finishes the load under way (its batches are acknowledged or handed back), then stops. */
  stop(): Promise<void>;
}

/**
 * The interaction processor (worker role): takes batches from the stream, loads them in one transaction
 * each, and removes them from the stream only after the commit. Also keeps the day partitions: created a
 * week ahead, dropped past the retention.
 */
export async function startProcessor(options: ProcessorOptions): Promise<Processor> {
  const { stream, pool, metrics, log, clock } = options;
  const stopping = new AbortController();
  await maintainPartitions(pool, clock.now(), options.retentionDays);

  let lastMaintenance = clock.now().getTime();
  const run = async () => {
    // Per loop: a day this loop created is known only once its transaction committed, and the other loop
    // must not skip a partition whose creation has not committed yet.
    const knownDays = new Set<string>();
    while (!stopping.signal.aborted) {
      let result: LoadResult = { loaded: 0, duplicates: 0, dead: 0 };
      try {
        if (clock.now().getTime() - lastMaintenance > MAINTENANCE_EVERY_MS) {
          lastMaintenance = clock.now().getTime();
          await maintainPartitions(pool, clock.now(), options.retentionDays);
        }
        const load = async (client: pg.PoolClient, batches: Parameters<typeof loadBatches>[1]) => {
          result = await loadBatches(client, batches, {
            retentionDays: options.retentionDays,
            now: clock.now(),
            knownDays,
          });
        };
        await stream.processNext(pool, load, BATCHES_PER_LOAD, WAIT_FOR_BATCHES_MS);
        metrics.interactions.inc({ stage: "loaded" }, result.loaded);
        metrics.interactions.inc({ stage: "dead" }, result.dead);
      } catch (error) {
        // A partition created in the failed transaction went with it: check again next time.
        knownDays.clear();
        log.warn({ err: error }, "interaction load failed; retrying");
        await sleep(RETRY_PAUSE_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    }
  };
  // Loads at once: one parses and COPYs while PostgreSQL writes the others' rows, and while the machine is
  // busy the processor's sessions get their share of it.
  const done = Promise.all(Array.from({ length: PARALLEL_LOADS }, run));
  return {
    async stop() {
      stopping.abort();
      await done;
    },
  };
}

/** Creates the day partitions from yesterday to a week ahead and drops those past the retention. */
export async function maintainPartitions(pool: pg.Pool, now: Date, retentionDays: number): Promise<void> {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  for (let offset = -1; offset <= DAYS_AHEAD; offset++) {
    await pool.query("SELECT ensure_interaction_partition($1::date)", [dayOf(today + offset * DAY_MS)]);
  }
  await pool.query("SELECT drop_interaction_partitions_before($1::date)", [
    dayOf(today - retentionDays * DAY_MS),
  ]);
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
