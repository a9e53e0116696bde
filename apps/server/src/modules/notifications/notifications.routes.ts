import {
  announcementBodySchema,
  announcementListQuerySchema,
  announcementPageSchema,
  announcementSchema,
  eventIdParamsSchema,
  markReadBodySchema,
  markReadResultSchema,
  notificationListQuerySchema,
  notificationPageSchema,
} from "@turnout/contracts";
import type { FastifyPluginCallback } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorResponses as errors } from "../../platform/errors.ts";
import { requireUser, SIGNED_IN, SIGNED_IN_OR_ANONYMOUS } from "../auth/index.ts";
import type { NotificationsContext } from "./notifications-context.ts";
import * as notifications from "./notifications.service.ts";

/** API.md "Announcements and notifications": posting and reading announcements, the caller's notifications. */
export const notificationsRoutes: FastifyPluginCallback<NotificationsContext> = (app, ctx, done) => {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    "/api/events/:id/announcements",
    {
      config: { idempotent: true },
      schema: {
        tags: ["announcements"],
        summary: "Post an announcement (organizer): pushed live and sent to every confirmed participant",
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        body: announcementBodySchema,
        response: { 201: announcementSchema, ...errors(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const announcement = await notifications.postAnnouncement(
        ctx,
        requireUser(request),
        request.params.id,
        request.body,
      );
      return reply.code(201).send(announcement);
    },
  );

  api.get(
    "/api/events/:id/announcements",
    {
      schema: {
        tags: ["announcements"],
        summary: "The event's announcements, newest first",
        security: SIGNED_IN_OR_ANONYMOUS,
        params: eventIdParamsSchema,
        querystring: announcementListQuerySchema,
        response: { 200: announcementPageSchema, ...errors(400, 401, 404, 429) },
      },
    },
    async (request) => notifications.listAnnouncements(ctx, request.user, request.params.id, request.query),
  );

  api.get(
    "/api/me/notifications",
    {
      schema: {
        tags: ["me"],
        summary: "The caller's notifications, newest first; only unread ones with unread=true",
        security: SIGNED_IN,
        querystring: notificationListQuerySchema,
        response: { 200: notificationPageSchema, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const page = await notifications.listNotifications(ctx, requireUser(request), request.query);
      return reply.header("cache-control", "private, no-store").send(page);
    },
  );

  api.post(
    "/api/me/notifications/read",
    {
      config: { idempotent: true },
      schema: {
        tags: ["me"],
        summary: "Mark the caller's notifications read: these ids, or all when none are given",
        security: SIGNED_IN,
        body: markReadBodySchema,
        response: { 200: markReadResultSchema, ...errors(400, 401, 409, 422, 429) },
      },
    },
    async (request) => notifications.markNotificationsRead(ctx, requireUser(request), request.body),
  );
  done();
};
