import { eventIdParamsSchema } from "@turnout/contracts";
import { errorResponses } from "../../platform/errors.ts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Deps } from "../../deps.ts";
import { requireUser, SIGNED_IN, SIGNED_IN_OR_ANONYMOUS } from "../auth/index.ts";
import * as calendar from "./calendar.service.ts";

const errors = errorResponses;
const CONTENT_TYPE = "text/calendar; charset=utf-8";
// The `content` meta tells the OpenAPI document the body is text/calendar, not JSON.
const ICS = z.string().meta({
  description: "An iCalendar (RFC 5545) document",
  content: { "text/calendar": { schema: { type: "string" } } },
});

/** Calendar export (API.md "Events"): one event as .ics, the caller's secret webcal URL, and its feed. */
export function registerCalendarRoutes(app: FastifyInstance, deps: Deps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    "/api/events/:id/calendar.ics",
    {
      schema: {
        tags: ["events"],
        summary: "One event as an iCalendar file; visible to whoever may see the event",
        security: SIGNED_IN_OR_ANONYMOUS,
        params: eventIdParamsSchema,
        response: { 200: ICS, ...errors(400, 401, 404, 429) },
      },
    },
    async (request, reply) => {
      const ics = await calendar.getEventCalendar(
        deps,
        request.user,
        request.params.id,
        originOf(deps, request),
      );
      return sendCalendar(reply, ics, `attachment; filename="${request.params.id}.ics"`);
    },
  );

  api.get(
    "/api/me/calendar-url",
    {
      schema: {
        tags: ["me"],
        summary: "The caller's secret webcal URL of their confirmed events; the same on every call",
        security: SIGNED_IN,
        response: { 200: z.object({ url: z.string() }), ...errors(401, 429) },
      },
    },
    async (request) => {
      const token = await calendar.getFeedToken(deps, requireUser(request));
      const host = new URL(originOf(deps, request)).host;
      return { url: `webcal://${host}/api/calendar/${token}.ics` };
    },
  );

  api.get(
    "/api/calendar/:token.ics",
    {
      schema: {
        tags: ["events"],
        summary: "A user's calendar feed; the token in the URL is the only credential",
        params: z.object({ token: z.string().max(200) }),
        response: { 200: ICS, ...errors(400, 404, 429) },
      },
    },
    async (request, reply) => {
      const ics = await calendar.getFeedCalendar(deps, request.params.token, originOf(deps, request));
      // The URL is a secret: shared caches must not keep it.
      void reply.header("cache-control", "private, max-age=300");
      return sendCalendar(reply, ics, "inline");
    },
  );
}

// Links in exports point at PUBLIC_URL when set (behind a proxy the request's own host may be internal).
function originOf(deps: Deps, request: FastifyRequest): string {
  const publicUrl = deps.config.publicUrl;
  return publicUrl === undefined ? `${request.protocol}://${request.host}` : new URL(publicUrl).origin;
}

// A string body with a non-JSON type skips the JSON serializer, so the calendar goes out verbatim.
function sendCalendar(reply: FastifyReply, ics: string, disposition: string): FastifyReply {
  return reply.type(CONTENT_TYPE).header("content-disposition", disposition).send(ics);
}
