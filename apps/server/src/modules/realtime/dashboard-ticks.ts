import type { Deps } from "../../deps.ts";
import { computeAnalyticsTick } from "../interactions/index.ts";
import { appendSnapshotIfDue } from "./channel-log.repo.ts";
import { publishLive } from "./sequencer.ts";

/*
 * Live analytics on `dashboard:<eventId>` (API.md "Real time": `analytics.tick.v1` about once a second while
 * watched). Each gateway node ticks the dashboard channels its own clients watch, and only those: it asks the
 * interactions module for the figures, appends them to the channel log like any channel message (so they carry
 * positions, resume and reach watchers on every node the usual way) and publishes them live. Nodes that watch the
 * same dashboard take turns in the database (appendSnapshotIfDue), so the channel gets about one tick a second.
 */

export const ANALYTICS_TICK_TYPE = "analytics.tick.v1";
const DASHBOARD_PREFIX = "dashboard:";

export interface DashboardTicksOptions {
  /** The channels this node's clients watch right now. */
  watchedChannels(): Iterable<string>;
  liveSubjectPrefix: string;
  historyPerChannel: number;
  intervalMs: number;
}

export function startDashboardTicks(
  deps: Pick<Deps, "db" | "bus" | "log" | "clock">,
  options: DashboardTicksOptions,
): { stop(): Promise<void> } {
  const running = new Map<string, Promise<void>>();

  async function tick(channel: string): Promise<void> {
    const now = deps.clock.now();
    const figures = await computeAnalyticsTick(deps.db, channel.slice(DASHBOARD_PREFIX.length), now);
    const appended = await deps.db.transaction().execute((trx) =>
      appendSnapshotIfDue(
        trx,
        { channel, data: figures },
        { type: ANALYTICS_TICK_TYPE, occurredAt: now.toISOString() },
        // A little under the interval, so timers of two nodes a few ms apart do not skip a second.
        { minGapMs: options.intervalMs * 0.9, historyPerChannel: options.historyPerChannel },
      ),
    );
    if (appended !== null) await publishLive(deps.bus, options.liveSubjectPrefix, [appended]);
  }

  const timer = setInterval(() => {
    for (const channel of options.watchedChannels()) {
      // One tick per channel at a time: a slow database skips seconds rather than piling them up.
      if (!channel.startsWith(DASHBOARD_PREFIX) || running.has(channel)) continue;
      const run = tick(channel)
        .catch((error: unknown) => {
          deps.log.warn({ err: error, channel }, "realtime: dashboard tick failed");
        })
        .finally(() => running.delete(channel));
      running.set(channel, run);
    }
  }, options.intervalMs);
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(running.values());
    },
  };
}
