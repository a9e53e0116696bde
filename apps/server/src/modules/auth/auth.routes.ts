import {
  authResponseSchema,
  loginBodySchema,
  refreshBodySchema,
  registerBodySchema,
  type AuthResponse,
} from "@turnout/contracts";
import { errorResponses } from "../../platform/errors.ts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../platform/errors.ts";
import * as auth from "./auth.service.ts";
import { isOwnOrigin, ownOrigin, REFRESH_COOKIE_NAME, refreshCookieOptions } from "./cookies.ts";
import { warmUpPasswordHashing } from "./passwords.ts";

const tags = ["auth"];
const errors = errorResponses;

/** POST /api/auth/register, login, refresh and logout. */
export function registerAuthRoutes(app: FastifyInstance, deps: Deps): void {
  void warmUpPasswordHashing();
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    "/api/auth/register",
    {
      schema: {
        tags,
        summary: "Create an account; the first one on an empty instance is admin",
        body: registerBodySchema,
        response: { 201: authResponseSchema, ...errors(400, 409, 429) },
      },
    },
    async (request, reply) => {
      const result = await auth.register(deps, request.body, {
        ip: request.ip,
        acceptLanguage: request.headers["accept-language"],
      });
      return sendSignedIn(request, reply.code(201), result);
    },
  );

  api.post(
    "/api/auth/login",
    {
      schema: {
        tags,
        summary: "Sign in with email and password",
        body: loginBodySchema,
        response: { 200: authResponseSchema, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => sendSignedIn(request, reply, await auth.login(deps, request.body, request.ip)),
  );

  api.post(
    "/api/auth/refresh",
    {
      schema: {
        tags,
        summary:
          "Swap a refresh token (body, else the cookie with a same-origin Origin header) for a new pair",
        body: refreshBodySchema,
        response: { 200: authResponseSchema, ...errors(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const token = readRefreshToken(deps, request, request.body.refreshToken);
      return sendSignedIn(request, reply, await auth.refresh(deps, token));
    },
  );

  api.post(
    "/api/auth/logout",
    {
      schema: {
        tags,
        summary: "End the login a refresh token (body, else the cookie) belongs to",
        body: refreshBodySchema,
        response: { 204: z.null().describe("Signed out"), ...errors(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      await auth.logout(deps, readRefreshToken(deps, request, request.body.refreshToken));
      return reply
        .clearCookie(REFRESH_COOKIE_NAME, refreshCookieOptions(request.protocol === "https"))
        .code(204)
        .send(null);
    },
  );
}

// Register, login and refresh answer the pair in the body and also set the refresh cookie for the web app.
function sendSignedIn(request: FastifyRequest, reply: FastifyReply, result: AuthResponse): AuthResponse {
  void reply.setCookie(
    REFRESH_COOKIE_NAME,
    result.refreshToken,
    refreshCookieOptions(request.protocol === "https"),
  );
  return result;
}

// A token in the body is proof enough; the cookie travels with any request the browser makes, so using it
// also needs an Origin header naming this app.
function readRefreshToken(deps: Deps, request: FastifyRequest, fromBody: string | undefined): string {
  if (fromBody !== undefined) return fromBody;
  const fromCookie = request.cookies[REFRESH_COOKIE_NAME];
  if (fromCookie === undefined || fromCookie === "")
    throw new AppError("auth.required", "Send a refresh token.");
  const expected = ownOrigin(deps.config.publicUrl, request.protocol, request.host);
  if (!isOwnOrigin(request.headers.origin, expected)) {
    throw new AppError("auth.forbidden", "A cookie refresh must come from the app's own origin.");
  }
  return fromCookie;
}
