import {
  eventIdParamsSchema,
  myParticipationPageSchema,
  myParticipationsQuerySchema,
  participantPageSchema,
  participantsQuerySchema,
} from "@turnout/contracts";
import { errorResponses } from "../../platform/errors.ts";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { requireUser, SIGNED_IN } from "../auth/index.ts";
import * as lists from "./participant-lists.service.ts";
import type { ParticipationDeps } from "./participation.service.ts";

const errors = errorResponses;

/** GET /api/events/:id/participants (organizer, moderator+) and GET /api/me/participations. */
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

  api.get(
    "/api/me/participations",
    {
      schema: {
        tags: ["me"],
        summary: "The caller's participations, latest join first, each with its event",
        security: SIGNED_IN,
        querystring: myParticipationsQuerySchema,
        response: { 200: myParticipationPageSchema, ...errors(400, 401, 429) },
      },
    },
    async (request) => lists.listMyParticipations(deps, requireUser(request), request.query),
  );
}
