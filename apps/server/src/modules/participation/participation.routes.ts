import {
  eventIdParamsSchema,
  eventStatsSchema,
  participationSchema,
  removeParticipantParamsSchema,
  removeParticipantQuerySchema,
} from "@turnout/contracts";
import { errorResponses } from "../../platform/errors.ts";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Deps } from "../../deps.ts";
import { requireUser, SIGNED_IN, SIGNED_IN_OR_ANONYMOUS } from "../auth/index.ts";
import type { AdmissionQueue } from "./admission.ts";
import * as participation from "./participation.service.ts";

const tags = ["participation"];
const errors = errorResponses;

export interface ParticipationRouteOptions {
  admission: AdmissionQueue;
  /** Told of every event whose participations this process changed (the read cache forgets its page). */
  onChange: (eventId: string) => void;
}

/** Joining and leaving, the caller's participation, removal by the organizer, and the counters. */
export function registerParticipationRoutes(
  app: FastifyInstance,
  deps: Deps,
  options: ParticipationRouteOptions,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  // A client that hung up leaves its join queued; it is decided before the pool closes.
  app.addHook("onClose", () => options.admission.drain());

  api.post(
    "/api/events/:id/join",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Join an event: a seat if one is free, else a place on the waitlist",
        description:
          "201 with a new place; 200 with the place the caller already holds. 409 event.full when seats " +
          "and waitlist are full, 410 event.closed once cancelled or ended, 403 join.forbidden for the " +
          "organizer and for people the organizer removed.",
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        response: {
          200: participationSchema,
          201: participationSchema,
          ...errors(400, 401, 403, 404, 409, 410, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const outcome = await participation.joinEvent(
        options.admission,
        requireUser(request),
        request.params.id,
      );
      return reply.code(outcome.isNew ? 201 : 200).send(outcome.participation);
    },
  );

  api.delete(
    "/api/events/:id/join",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Give up one's place; a freed seat goes to the head of the waitlist at once",
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        response: { 200: participationSchema, ...errors(400, 401, 404, 409, 422, 429) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const result = await participation.leaveEvent(deps, requireUser(request), id);
      if (result.changed) options.onChange(id);
      return result.participation;
    },
  );

  api.get(
    "/api/events/:id/participation",
    {
      schema: {
        tags,
        summary: "The caller's participation at the event",
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        response: { 200: participationSchema, ...errors(400, 401, 404, 429) },
      },
    },
    async (request) => participation.getParticipation(deps, requireUser(request), request.params.id),
  );

  api.delete(
    "/api/events/:id/participants/:userId",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Remove a participant (organizer, moderator+); they may not join again",
        security: SIGNED_IN,
        params: removeParticipantParamsSchema,
        querystring: removeParticipantQuerySchema,
        response: { 200: participationSchema, ...errors(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    async (request) => {
      const { id, userId } = request.params;
      const actor = requireUser(request);
      const result = await participation.removeParticipant(deps, actor, id, userId, request.query.reason);
      if (result.changed) options.onChange(id);
      return result.participation;
    },
  );

  api.get(
    "/api/events/:id/stats",
    {
      schema: {
        tags,
        summary: "Capacity and counters; they always equal the participant lists",
        security: SIGNED_IN_OR_ANONYMOUS,
        params: eventIdParamsSchema,
        response: { 200: eventStatsSchema, ...errors(400, 401, 404, 429) },
      },
    },
    async (request) => participation.getStats(deps, request.user, request.params.id),
  );
}
