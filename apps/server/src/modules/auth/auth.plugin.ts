import type { FastifyPluginCallback } from "fastify";
import type { Deps } from "../../deps.ts";
import { registerAuthRoutes } from "./auth.routes.ts";
import { registerUserRoutes } from "./users.routes.ts";

export interface AuthRoutesOptions {
  deps: Deps;
}

/** Sign-up, login, refresh and logout; the caller's own account; an admin's change of a user's role. */
export const authRoutes: FastifyPluginCallback<AuthRoutesOptions> = (app, options, done) => {
  registerAuthRoutes(app, options.deps);
  registerUserRoutes(app, options.deps);
  done();
};
