import {
  checkInBodySchema,
  checkInResultSchema,
  eventIdParamsSchema,
  ticketSchema,
} from "@turnout/contracts";
import { errorResponses } from "../../platform/errors.ts";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { requireUser, SIGNED_IN } from "../auth/index.ts";
import * as tickets from "./tickets.service.ts";
import type { TicketDeps } from "./tickets.service.ts";

const tags = ["participation"];
const errors = errorResponses;

export interface TicketRouteOptions {
  /** Told of every event whose check-in counter this process changed (the read cache forgets its page). */
  onChange: (eventId: string) => void;
}

/** A confirmed participant's ticket and the organizer's check-in scan. */
export function registerTicketRoutes(
  app: FastifyInstance,
  deps: TicketDeps,
  options: TicketRouteOptions,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    "/api/events/:id/ticket",
    {
      schema: {
        tags,
        summary: "The caller's ticket: a signed code and its QR code (SVG)",
        description: "Confirmed participants only; anyone else gets 409 ticket.unavailable.",
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        response: { 200: ticketSchema, ...errors(400, 401, 404, 409, 429) },
      },
    },
    async (request) => tickets.getTicket(deps, requireUser(request), request.params.id),
  );

  api.post(
    "/api/events/:id/checkins",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Check a ticket's holder in (organizer, moderator+)",
        description:
          "The first scan answers alreadyCheckedIn false, every later one true. A code for another " +
          "event, a forged one, or one whose holder is no longer confirmed is 400 ticket.invalid.",
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        body: checkInBodySchema,
        response: { 200: checkInResultSchema, ...errors(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const result = await tickets.checkIn(deps, requireUser(request), id, request.body.code);
      if (!result.alreadyCheckedIn) options.onChange(id);
      return result;
    },
  );
}
