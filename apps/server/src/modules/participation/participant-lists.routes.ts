import { eventIdParamsSchema, participantPageSchema, participantsQuerySchema } from "@turnout/contracts";
import { errorResponses } from "../../platform/errors.ts";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { requireUser, SIGNED_IN } from "../auth/index.ts";
import * as lists from "./participant-lists.service.ts";
import type { ParticipationDeps } from "./participation.service.ts";

const errors = errorResponses;

/** GET /api/events/:id/participants (organizer, moderator+). */
export function registerParticipantListRoutes(app: FastifyInstance, deps: ParticipationDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    "/api/events/:id/participants",
    {
      schema: {
        tags: ["participation"],
        summary: "Confirmed or waitlisted people in queue order (organizer, moderator+)",
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        querystring: participantsQuerySchema,
        response: { 200: participantPageSchema, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => lists.listParticipants(deps, requireUser(request), request.params.id, request.query),
  );
}
