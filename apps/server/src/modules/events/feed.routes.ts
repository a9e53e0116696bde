import {
  categoryListSchema,
  errorBodySchema,
  eventFeedQuerySchema,
  eventPageSchema,
} from "@turnout/contracts";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Deps } from "../../deps.ts";
import { createCategoryLister, listFeed } from "./feed.service.ts";
import { type ReadCache, type SerializedReply, sendSerialized, serializeReply } from "./read-cache.ts";

/** GET /api/events (the discovery feed and search) and GET /api/categories. */
export function registerFeedRoutes(
  app: FastifyInstance,
  deps: Deps,
  feedCache: ReadCache<SerializedReply>,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const listCategories = createCategoryLister(deps);

  api.get(
    "/api/events",
    {
      schema: {
        tags: ["events"],
        summary: "Published public events that have not ended, by start time; with q, by relevance",
        description:
          "`q` is a web-style search (quotes, `or`, `-word`) over title, description and venue. `from` " +
          "(inclusive) and `to` (exclusive) bound the start time. Pass `nextCursor` back as `cursor`.",
        querystring: eventFeedQuerySchema,
        response: { 200: eventPageSchema, 400: errorBodySchema, 429: errorBodySchema },
      },
    },
    async (request, reply) => {
      // The parsed query has its keys in schema order, so equal queries make equal keys.
      const key = `feed:${JSON.stringify(request.query)}`;
      const page = await feedCache.read(key, async () => serializeReply(await listFeed(deps, request.query)));
      return page === null ? listFeed(deps, request.query) : sendSerialized(request, reply, page);
    },
  );

  api.get(
    "/api/categories",
    {
      schema: {
        tags: ["events"],
        summary: "Every category with its count of upcoming public events (may lag by up to 5 s)",
        response: { 200: categoryListSchema, 429: errorBodySchema },
      },
    },
    async () => listCategories(),
  );
}
