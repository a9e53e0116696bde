// The realtime module's only door: other modules and roles import from here, never its files.
// The WebSocket and SSE gateway (API.md "Real time") and the sequencer that numbers channel messages.
import websocket from "@fastify/websocket";
import type { FastifyPluginAsync } from "fastify";
import type { RealtimeSettings } from "../../config.ts";
import type { Deps } from "../../deps.ts";
import { createTokenKeys } from "../auth/index.ts";
import { createChannelAccess } from "./channel-access.ts";
import { createChannelHub } from "./channel-hub.ts";
import { startDashboardTicks } from "./dashboard-ticks.ts";
import { createRealtimeMetrics } from "./realtime-metrics.ts";
import { registerRealtimeRoutes } from "./realtime.routes.ts";

// API.md "Real time": `analytics.tick.v1` on a watched dashboard channel about once a second.
const DASHBOARD_TICK_MS = 1_000;

export interface RealtimeOptions {
  deps: Deps;
  settings: RealtimeSettings;
}

/** GET /api/realtime (WebSocket) and /api/realtime/sse, fed by the live channel subjects on the bus. */
export const realtimeGateway: FastifyPluginAsync<RealtimeOptions> = async (app, { deps, settings }) => {
  // Compression stays off: frames are written beside ws as ready-made bytes (realtime.routes.ts, wireFrameOf).
  await app.register(websocket, {
    options: { maxPayload: settings.maxMessageBytes, perMessageDeflate: false },
  });
  const metrics = createRealtimeMetrics(deps.metrics.registry);
  const hub = createChannelHub(deps, {
    liveSubjectPrefix: settings.subjectPrefix,
    snapshotIntervalMs: settings.snapshotIntervalMs,
    metrics,
  });
  const ticks = startDashboardTicks(deps, {
    watchedChannels: () => hub.watchedChannels(),
    liveSubjectPrefix: settings.subjectPrefix,
    historyPerChannel: settings.historyPerChannel,
    intervalMs: DASHBOARD_TICK_MS,
  });
  app.addHook("onClose", async () => {
    await ticks.stop();
    await hub.close();
  });
  registerRealtimeRoutes(app, {
    session: {
      hub,
      access: createChannelAccess(deps),
      keys: createTokenKeys(deps.secrets.tokenSecret, deps.secrets.previousTokenSecret),
      currentUsers: app.currentUsers,
      clock: deps.clock,
      metrics,
      maxSubscriptions: settings.maxSubscriptionsPerConnection,
    },
    sendBufferBytes: settings.sendBufferBytes,
    heartbeatMs: settings.heartbeatMs,
    connectionsPerMinute: settings.connectionsPerMinute,
  });
};

export { startChannelLogTrim } from "./channel-log-trim.ts";
export { startChannelSequencer } from "./sequencer.ts";
export type { SequencerOptions } from "./sequencer.ts";
