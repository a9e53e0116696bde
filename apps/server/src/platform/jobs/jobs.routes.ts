import {
  deadJobListQuerySchema,
  deadJobListSchema,
  deadJobParamsSchema,
  errorBodySchema,
} from "@turnout/contracts";
import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import { z } from "zod";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { JobQueue } from "./job-queue.ts";

const security = [{ bearer: [] }];

export interface JobAdminRoutesOptions {
  jobs: JobQueue;
  /**
   * Throws the error answer (401, 403) unless the caller is an admin. Platform knows no module, so the api
   * role passes the auth module's check in.
   */
  requireAdmin: (request: FastifyRequest) => void;
}

/** Admin view of jobs that exhausted their retries: GET /api/admin/jobs/dead, POST /api/admin/jobs/:id/retry. */
export const jobAdminRoutes: FastifyPluginCallback<JobAdminRoutesOptions> = (app, options, done) => {
  const { jobs, requireAdmin } = options;
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
      requireAdmin(request);
      return { items: await jobs.listDead({ limit: request.query.limit }) };
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
      requireAdmin(request);
      await jobs.retryDead(request.params.id);
      return reply.status(204).send(null);
    },
  );
  done();
};
