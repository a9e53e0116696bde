import type { FastifyPluginCallback } from "fastify";
import type { Deps } from "../../deps.ts";
import { createAdmissionQueue } from "./admission.ts";
import { registerParticipantListRoutes } from "./participant-lists.routes.ts";
import { registerParticipationRoutes } from "./participation.routes.ts";
import { registerTicketRoutes } from "./tickets.routes.ts";

export interface ParticipationRoutesOptions {
  deps: Deps;
  /**
   * Told of every event whose counters this process changed (joins, leaves, removals, check-ins), so that
   * what this process serves from memory (the events read cache) forgets it. The api role wires it.
   */
  onAdmissionChange: (eventId: string) => void;
}

/** Joining and leaving, removal, the counters, tickets and check-in, and the participant lists. */
export const participationRoutes: FastifyPluginCallback<ParticipationRoutesOptions> = (
  app,
  options,
  done,
) => {
  const { deps, onAdmissionChange } = options;
  const admission = createAdmissionQueue(deps, onAdmissionChange);
  registerParticipationRoutes(app, deps, { admission, onChange: onAdmissionChange });
  registerTicketRoutes(app, deps, { onChange: onAdmissionChange });
  registerParticipantListRoutes(app, deps);
  done();
};
