import {
  deadJobListQuerySchema,
  deadJobListSchema,
  deadJobParamsSchema,
  errorBodySchema,
} from "@turnout/contracts";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Deps } from "../../deps.ts";
import { requireRole } from "../../modules/auth/index.ts";

const security = [{ bearer: [] }];

/** Admin view of jobs that exhausted their retries: GET /api/admin/jobs/dead, POST /api/admin/jobs/:id/retry. */
export function registerJobRoutes(app: FastifyInstance, deps: Deps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    "/api/admin/jobs/dead",
    {
      schema: {
        tags: ["admin"],
        summary: "Dead jobs (retries exhausted), newest first (admin only)",
        security,
        querystring: deadJobListQuerySchema,
        response: {
          200: deadJobListSchema,
          400: errorBodySchema,
          401: errorBodySchema,
          403: errorBodySchema,
        },
      },
    },
    async (request) => {
      requireRole(request, "admin");
      return { items: await deps.jobs.listDead({ limit: request.query.limit }) };
    },
  );

  api.post(
    "/api/admin/jobs/:id/retry",
    {
      config: { idempotent: true },
      schema: {
        tags: ["admin"],
        summary: "Give a dead job one more attempt (admin only)",
        security,
        params: deadJobParamsSchema,
        response: {
          204: z.null().describe("Queued again"),
          401: errorBodySchema,
          403: errorBodySchema,
          404: errorBodySchema,
        },
      },
    },
    async (request, reply) => {
      requireRole(request, "admin");
      await deps.jobs.retryDead(request.params.id);
      return reply.status(204).send(null);
    },
  );
}
