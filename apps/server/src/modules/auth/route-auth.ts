import type { FastifyInstance, onRequestHookHandler } from "fastify";
import { requireUser } from "./guard.ts";

type Security = { [scheme: string]: string[] }[];

/** The OpenAPI `security` of a route that needs a signed-in caller. */
export const SIGNED_IN: Security = [{ bearer: [] }];
/** The OpenAPI `security` of a route open to anyone that says more to a signed-in caller. */
export const SIGNED_IN_OR_ANONYMOUS: Security = [{}, { bearer: [] }];

type AuthMode = "required" | "optional" | "none";

/**
 * API.md's order of checks puts authentication (401) before validation (400). A route states its need once,
 * in its schema's `security` (documented in the OpenAPI too), and this hook checks the token before the body is
 * even read: a required route refuses a missing or bad token, an optional one refuses only a bad token.
 * Call before any route is registered.
 */
export function checkAuthBeforeValidation(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const mode = authModeOf(route.schema?.security);
    if (mode === "none") return;
    const check = mode === "required" ? refuseAnonymous : refuseBadToken;
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? [check] : [...[existing].flat(), check];
  });
}

// requireUser throws the 401; Fastify's hook runner hands a thrown error to the error handler.
const refuseAnonymous: onRequestHookHandler = (request, _reply, done) => {
  requireUser(request);
  done();
};

const refuseBadToken: onRequestHookHandler = (request, _reply, done) => {
  if (request.authProblem !== null) requireUser(request);
  done();
};

function authModeOf(security: readonly Readonly<Record<string, unknown>>[] | undefined): AuthMode {
  if (security === undefined || security.length === 0) return "none";
  const allowsAnonymous = security.some((requirement) => Object.keys(requirement).length === 0);
  return allowsAnonymous ? "optional" : "required";
}
