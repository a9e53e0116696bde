import type { FastifyInstance } from "fastify";
import type { Deps } from "../deps.ts";
import { realtimeGateway, startChannelLogTrim, startChannelSequencer } from "../modules/realtime/index.ts";
import type { DomainStream } from "../platform/outbox/outbox.ts";

/** The realtime role's routes: the WebSocket and SSE gateway. */
export async function registerRealtimeRole(app: FastifyInstance, deps: Deps): Promise<void> {
  await app.register(realtimeGateway, { deps, settings: deps.config.realtime });
}

/**
 * The realtime role's background work: the sequencer that numbers channel messages (every realtime process
 * binds it; they share it in order) and the sweep of aged channel messages. Bind it before the outbox relay
 * starts (ADR 0002).
 */
export async function startRealtimeRole(deps: Deps, options: { stream?: DomainStream } = {}) {
  const sequencer = await startChannelSequencer(deps, {
    stream: options.stream ?? deps.config.bus.domainStream,
    liveSubjectPrefix: deps.config.realtime.subjectPrefix,
    historyPerChannel: deps.config.realtime.historyPerChannel,
  });
  const trim = startChannelLogTrim(deps, { historyHours: deps.config.realtime.historyHours });
  return {
    async stop() {
      await trim.stop();
      await sequencer.unsubscribe();
    },
  };
}
