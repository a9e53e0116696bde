import {
  cancelEventBodySchema,
  createEventBodySchema,
  type Event,
  eventIdParamsSchema,
  eventPageSchema,
  eventSchema,
  myEventsQuerySchema,
  updateEventBodySchema,
} from "@turnout/contracts";
import { errorResponses } from "../../platform/errors.ts";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Deps } from "../../deps.ts";
import type { Clock } from "../../platform/clock.ts";
import { requireUser, SIGNED_IN, SIGNED_IN_OR_ANONYMOUS } from "../auth/index.ts";
import { formatEtag } from "./etag.ts";
import * as events from "./events.service.ts";
import { registerFeedRoutes } from "./feed.routes.ts";
import {
  createReadCache,
  type ReadCache,
  type SerializedReply,
  sendSerialized,
  serializeReply,
} from "./read-cache.ts";

const tags = ["events"];
const errors = errorResponses;
const IF_MATCH = 'Send `If-Match: "<version>"` (the ETag) to refuse the write with 412 if the event changed.';

/** What public reads may be served from memory: feed pages by query, event pages by event id. */
export interface EventReadCaches {
  feed: ReadCache<SerializedReply>;
  pages: ReadCache<SerializedReply>;
}

export function createEventReadCaches(ttlMs: number, clock: Clock): EventReadCaches {
  return { feed: createReadCache(ttlMs, clock), pages: createReadCache(ttlMs, clock) };
}

/** The events routes of API.md: create, read, edit, publish, cancel, delete, the feed and the caller's list. */
export function registerEventRoutes(app: FastifyInstance, deps: Deps, caches: EventReadCaches): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  // After a local write: the event's page and every feed page may show it.
  const forgetEvent = (id: string) => {
    caches.pages.forget(id);
    caches.feed.clear();
  };
  registerFeedRoutes(app, deps, caches.feed);

  api.post(
    "/api/events",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Create an event; it starts as a draft",
        security: SIGNED_IN,
        body: createEventBodySchema,
        response: { 201: eventSchema, ...errors(400, 401, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const event = await events.createEvent(deps, requireUser(request), request.body);
      return withEtag(reply.code(201), event);
    },
  );

  api.get(
    "/api/events/:id",
    {
      schema: {
        tags,
        summary: "One event; drafts only for their organizer and moderators+",
        security: SIGNED_IN_OR_ANONYMOUS,
        params: eventIdParamsSchema,
        response: { 200: eventSchema, ...errors(400, 401, 404, 429) },
      },
    },
    async (request, reply) => {
      // A token that failed was already a 401 the client can act on (refresh), not an anonymous 404 for
      // their own draft.
      const actor = request.user;
      const { id } = request.params;
      // Published and cancelled events look the same to everyone, so their page is shared; drafts are not.
      const page = await caches.pages.read(id, async () => {
        const event = await events.findSharedEvent(deps, id);
        return event === null ? null : serializeReply(event, formatEtag(event.version));
      });
      if (page !== null) return sendSerialized(request, reply, page);
      return withEtag(reply, await events.getEvent(deps, actor, id));
    },
  );

  api.patch(
    "/api/events/:id",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Edit an event (organizer or moderator+)",
        description: IF_MATCH,
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        body: updateEventBodySchema,
        response: { 200: eventSchema, ...errors(400, 401, 403, 404, 409, 412, 422, 429) },
      },
    },
    async (request, reply) => {
      const actor = requireUser(request);
      const options = { ifMatch: request.headers["if-match"] };
      const event = await events.updateEvent(deps, actor, request.params.id, request.body, options);
      forgetEvent(event.id);
      return withEtag(reply, event);
    },
  );

  api.post(
    "/api/events/:id/publish",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Publish a draft that has not ended",
        description: IF_MATCH,
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        response: { 200: eventSchema, ...errors(400, 401, 403, 404, 409, 412, 422, 429) },
      },
    },
    async (request, reply) => {
      const options = { ifMatch: request.headers["if-match"] };
      const event = await events.publishEvent(deps, requireUser(request), request.params.id, options);
      forgetEvent(event.id);
      return withEtag(reply, event);
    },
  );

  api.post(
    "/api/events/:id/cancel",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Cancel a published event that has not ended; every participation follows",
        description: IF_MATCH,
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        body: cancelEventBodySchema,
        response: { 200: eventSchema, ...errors(400, 401, 403, 404, 409, 412, 422, 429) },
      },
    },
    async (request, reply) => {
      const actor = requireUser(request);
      const options = { ifMatch: request.headers["if-match"] };
      const event = await events.cancelEvent(deps, actor, request.params.id, request.body.reason, options);
      forgetEvent(event.id);
      return withEtag(reply, event);
    },
  );

  api.delete(
    "/api/events/:id",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Delete a draft",
        description: IF_MATCH,
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        response: { 204: z.null().describe("Deleted"), ...errors(400, 401, 403, 404, 409, 412, 422, 429) },
      },
    },
    async (request, reply) => {
      const options = { ifMatch: request.headers["if-match"] };
      await events.deleteEvent(deps, requireUser(request), request.params.id, options);
      forgetEvent(request.params.id);
      return reply.code(204).send(null);
    },
  );

  api.get(
    "/api/me/events",
    {
      schema: {
        tags: ["me"],
        summary: "Events the caller organizes, every status, latest start first",
        security: SIGNED_IN,
        querystring: myEventsQuerySchema,
        response: { 200: eventPageSchema, ...errors(400, 401, 429) },
      },
    },
    async (request) => events.listMyEvents(deps, requireUser(request), request.query),
  );
}

function withEtag(reply: FastifyReply, event: Event): Event {
  void reply.header("etag", formatEtag(event.version));
  return event;
}
