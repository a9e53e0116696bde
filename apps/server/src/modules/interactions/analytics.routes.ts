import {
  funnelQuerySchema,
  funnelSchema,
  interactionListQuerySchema,
  interactionPageSchema,
  liveQuerySchema,
  liveSchema,
  timeseriesQuerySchema,
  timeseriesSchema,
  topQuerySchema,
  topSchema,
} from "@turnout/contracts";
import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Clock } from "../../platform/clock.ts";
import { readCursor, writeCursor } from "../../platform/cursor.ts";
import type { Db } from "../../platform/db.ts";
import { AppError, errorResponses } from "../../platform/errors.ts";
import { hasRole, requireUser, SIGNED_IN, type AuthUser } from "../auth/index.ts";
import {
  listInteractions,
  readFunnel,
  readLive,
  readTimeseries,
  readTop,
  type Range,
} from "./analytics.repo.ts";

export interface AnalyticsOptions {
  db: Db;
  clock: Clock;
  /** Whether `user` may see the analytics of event `eventId` (organizer or moderator+): the events module's rule. */
  canQueryEvent: (user: AuthUser, eventId: string) => Promise<boolean>;
}

const tags = ["analytics"];
const DEFAULT_RANGE_MS = 24 * 3600_000;
const MAX_POINTS = 10_000;
const INTERVAL_MS = { minute: 60_000, hour: 3600_000, day: 86_400_000 } as const;
const positionSchema = z.tuple([z.iso.datetime(), z.uuid(), z.string().min(1).max(100)]);

/**
 * The analytics queries of API.md. Moderators and admins may query everything; an organizer only the
 * interactions of an event they manage (`eventId` required); anyone else gets 403 auth.forbidden.
 */
export const analyticsRoutes: FastifyPluginCallback<AnalyticsOptions> = (app, options, done) => {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { db, clock } = options;
  const errors = errorResponses(400, 401, 403, 429, 503);

  async function authorizedRange(
    request: FastifyRequest,
    query: { from?: string; to?: string; eventId?: string },
  ): Promise<Range> {
    const user = requireUser(request);
    const now = clock.now();
    const to = query.to === undefined ? now : new Date(query.to);
    const from = query.from === undefined ? new Date(to.getTime() - DEFAULT_RANGE_MS) : new Date(query.from);
    if (from.getTime() >= to.getTime()) {
      throw new AppError("validation.failed", "The request is not valid.", [
        { path: "from", message: "must be before `to`" },
      ]);
    }
    const isStaff = hasRole(user.role, "moderator");
    if (!isStaff && (query.eventId === undefined || !(await options.canQueryEvent(user, query.eventId)))) {
      throw new AppError("auth.forbidden", "Only an event's organizers, moderators and admins may see this.");
    }
    return { from, to, eventId: query.eventId };
  }

  api.get(
    "/api/analytics/interactions",
    {
      schema: {
        tags,
        summary: "Interactions, newest first",
        security: SIGNED_IN,
        querystring: interactionListQuerySchema,
        response: { 200: interactionPageSchema, ...errors },
      },
    },
    async (request) => {
      const { query } = request;
      const range = await authorizedRange(request, query);
      const position = query.cursor === undefined ? undefined : readCursor(query.cursor, positionSchema);
      const rows = await listInteractions(
        db,
        range,
        query,
        position && { timestamp: position[0], sourceId: position[1], id: position[2] },
      );
      const items = rows.slice(0, query.limit);
      const last = items.at(-1);
      const hasMore = rows.length > query.limit && last !== undefined;
      return {
        items,
        nextCursor: hasMore ? writeCursor([last.timestamp, last.sourceId, last.id]) : null,
      };
    },
  );

  api.get(
    "/api/analytics/timeseries",
    {
      schema: {
        tags,
        summary: "A metric per minute, hour or day",
        security: SIGNED_IN,
        querystring: timeseriesQuerySchema,
        response: { 200: timeseriesSchema, ...errors },
      },
    },
    async (request) => {
      const { query } = request;
      const range = await authorizedRange(request, query);
      if ((range.to.getTime() - range.from.getTime()) / INTERVAL_MS[query.interval] > MAX_POINTS) {
        throw new AppError("validation.failed", "The request is not valid.", [
          { path: "interval", message: `gives more than ${MAX_POINTS} points over this range` },
        ]);
      }
      const points = await readTimeseries(db, range, query);
      return { metric: query.metric, interval: query.interval, points };
    },
  );

  api.get(
    "/api/analytics/top",
    {
      schema: {
        tags,
        summary: "The most frequent paths, names, referrers, countries or devices",
        security: SIGNED_IN,
        querystring: topQuerySchema,
        response: { 200: topSchema, ...errors },
      },
    },
    async (request) => {
      const range = await authorizedRange(request, request.query);
      return { dimension: request.query.dimension, items: await readTop(db, range, request.query) };
    },
  );

  api.get(
    "/api/analytics/funnel",
    {
      schema: {
        tags,
        summary: "Sessions that did each step after the previous ones",
        security: SIGNED_IN,
        querystring: funnelQuerySchema,
        response: { 200: funnelSchema, ...errors },
      },
    },
    async (request) => {
      const { steps } = request.query;
      const range = await authorizedRange(request, request.query);
      const counts = await readFunnel(db, range, steps);
      const first = counts[0] ?? 0;
      return {
        steps: steps.map((step, index) => {
          const count = counts[index] ?? 0;
          return { step, count, conversion: first === 0 ? 0 : count / first };
        }),
      };
    },
  );

  api.get(
    "/api/analytics/live",
    {
      schema: {
        tags,
        summary: "Visitors now and interactions per minute over the last 5 minutes",
        security: SIGNED_IN,
        querystring: liveQuerySchema,
        response: { 200: liveSchema, ...errors },
      },
    },
    async (request) => {
      await authorizedRange(request, request.query);
      return readLive(db, clock.now(), request.query.eventId);
    },
  );
  done();
};
