import { myParticipationPageSchema, myParticipationsQuerySchema } from "@turnout/contracts";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Deps } from "../../deps.ts";
import { errorResponses } from "../../platform/errors.ts";
import { requireUser, SIGNED_IN } from "../auth/index.ts";
import { listMyParticipations } from "./events.service.ts";

/** GET /api/me/participations: participation's page of the caller's places, each with its event. */
export function registerMyParticipationRoutes(app: FastifyInstance, deps: Deps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    "/api/me/participations",
    {
      schema: {
        tags: ["me"],
        summary: "The caller's participations, latest join first, each with its event",
        security: SIGNED_IN,
        querystring: myParticipationsQuerySchema,
        response: { 200: myParticipationPageSchema, ...errorResponses(400, 401, 429) },
      },
    },
    async (request) => listMyParticipations(deps, requireUser(request), request.query),
  );
}
