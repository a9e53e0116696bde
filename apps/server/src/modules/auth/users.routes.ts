import {
  updateMeBodySchema,
  updateUserRoleBodySchema,
  userIdParamsSchema,
  userSchema,
} from "@turnout/contracts";
import { errorResponses } from "../../platform/errors.ts";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Deps } from "../../deps.ts";
import { requireRole, requireUser } from "./guard.ts";
import * as users from "./users.service.ts";
import { SIGNED_IN } from "./route-auth.ts";

const errors = errorResponses;

/** GET/PATCH /api/me and PATCH /api/admin/users/:id. */
export function registerUserRoutes(app: FastifyInstance, deps: Deps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    "/api/me",
    {
      schema: {
        tags: ["me"],
        summary: "The signed-in account",
        security: SIGNED_IN,
        response: { 200: userSchema, ...errors(401, 404, 429) },
      },
    },
    async (request) => users.getMe(deps, requireUser(request)),
  );

  api.patch(
    "/api/me",
    {
      config: { idempotent: true },
      schema: {
        tags: ["me"],
        summary: "Change the signed-in account's profile",
        security: SIGNED_IN,
        body: updateMeBodySchema,
        response: { 200: userSchema, ...errors(400, 401, 404, 409, 422, 429) },
      },
    },
    async (request) => users.updateMe(deps, requireUser(request), request.body),
  );

  api.patch(
    "/api/admin/users/:id",
    {
      config: { idempotent: true },
      schema: {
        tags: ["admin"],
        summary: "Set a user's role (admin only); the last admin cannot be demoted",
        security: SIGNED_IN,
        params: userIdParamsSchema,
        body: updateUserRoleBodySchema,
        response: { 200: userSchema, ...errors(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    async (request) =>
      users.changeUserRole(
        { ...deps, currentUsers: app.currentUsers },
        requireRole(request, "admin"),
        request.params.id,
        request.body.role,
      ),
  );
}
