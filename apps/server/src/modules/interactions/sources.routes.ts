import { randomBytes } from "node:crypto";
import { createSourceBodySchema, sourceSchema } from "@turnout/contracts";
import type { FastifyPluginCallback } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import type { Clock } from "../../platform/clock.ts";
import type { Db } from "../../platform/db.ts";
import { AppError, errorResponses } from "../../platform/errors.ts";
import { requireRole, SIGNED_IN } from "../auth/index.ts";
import { insertSource, listActiveSources, revokeSource } from "./sources.repo.ts";

const tags = ["sources"];

export interface SourcesOptions {
  db: Db;
  clock: Clock;
}

/**
 * Sources admin (API.md): create a source with a fresh write key, list them, revoke one. Admins only. A
 * revoked key stops working in every collector within SOURCES_REFRESH_MS (write-keys.ts).
 */
export const sourcesRoutes: FastifyPluginCallback<SourcesOptions> = (app, { db, clock }, done) => {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.post(
    "/api/admin/sources",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Create a source and its write key",
        security: SIGNED_IN,
        body: createSourceBodySchema,
        response: { 201: sourceSchema, ...errorResponses(400, 401, 403, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      requireRole(request, "admin");
      const source = await insertSource(db, {
        id: uuidv7(),
        name: request.body.name,
        writeKey: `wk_${randomBytes(24).toString("base64url")}`,
      });
      return reply.code(201).send(source);
    },
  );

  api.get(
    "/api/admin/sources",
    {
      schema: {
        tags,
        summary: "List the sources whose write keys work",
        security: SIGNED_IN,
        response: { 200: z.object({ items: z.array(sourceSchema) }), ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => {
      requireRole(request, "admin");
      return { items: await listActiveSources(db) };
    },
  );

  api.delete(
    "/api/admin/sources/:id",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Revoke a source: its write key stops working (the built-in source cannot be revoked)",
        security: SIGNED_IN,
        params: z.object({ id: z.uuid() }),
        response: { 204: z.null().describe("Revoked"), ...errorResponses(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      requireRole(request, "admin");
      if (!(await revokeSource(db, request.params.id, clock.now()))) {
        throw new AppError("source.not_found", "No such source.");
      }
      return reply.code(204).send(null);
    },
  );
  done();
};
