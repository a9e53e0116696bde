import { Readable } from "node:stream";
import {
  eventIdParamsSchema,
  photoListQuerySchema,
  photoPageSchema,
  photoParamsSchema,
  photoSchema,
  photoUploadBodySchema,
  photoUploadParamsSchema,
  photoUploadSchema,
} from "@turnout/contracts";
import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses as errors } from "../../platform/errors.ts";
import { writeZip } from "../../platform/zip-stream.ts";
import { requireUser, SIGNED_IN, SIGNED_IN_OR_ANONYMOUS } from "../auth/index.ts";
import type { PhotosContext } from "./photos-context.ts";
import * as photos from "./photos.service.ts";

const tags = ["photos"];
// The `content` meta tells the OpenAPI document the body is a zip file, not JSON.
const ZIP = z.unknown().meta({
  description: "A zip archive of the event's photos",
  content: { "application/zip": { schema: { type: "string", format: "binary" } } },
});

/** API.md "Photos": uploads through signed URLs, completion, the wall, deletion and the organizer's archive. */
export const photosRoutes: FastifyPluginCallback<PhotosContext> = (app, ctx, done) => {
  const api = app.withTypeProvider<ZodTypeProvider>();
  // Links go to PUBLIC_URL when set; behind a proxy the request's own host may be an internal one.
  const originOf = (request: FastifyRequest) => ctx.publicOrigin ?? `${request.protocol}://${request.host}`;

  api.post(
    "/api/events/:id/photos/uploads",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Ask to upload a photo: a signed URL that takes one PUT of the bytes for 15 minutes",
        description:
          "Confirmed participants and the organizer. JPEG, PNG or WebP (415 photo.unsupported_type otherwise, " +
          "HEIC included: this build cannot decode it); at most 20 MiB declared (413 photo.too_large).",
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        body: photoUploadBodySchema,
        response: { 201: photoUploadSchema, ...errors(400, 401, 403, 404, 409, 413, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      const upload = await photos.createUpload(
        ctx,
        requireUser(request),
        request.params.id,
        request.body,
        originOf(request),
      );
      return reply.code(201).send(upload);
    },
  );

  api.post(
    "/api/events/:id/photos/uploads/:uploadId/complete",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Finish an upload: 202 with the photo in processing, 200 with it as it is now on a repeat",
        security: SIGNED_IN,
        params: photoUploadParamsSchema,
        response: {
          200: photoSchema,
          202: photoSchema,
          ...errors(400, 401, 403, 404, 409, 413, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const { id, uploadId } = request.params;
      const outcome = await photos.completeUpload(ctx, requireUser(request), id, uploadId, originOf(request));
      return reply.code(outcome.isNew ? 202 : 200).send(outcome.photo);
    },
  );

  api.get(
    "/api/events/:id/photos",
    {
      schema: {
        tags,
        summary: "The event's ready photos, newest first",
        security: SIGNED_IN_OR_ANONYMOUS,
        params: eventIdParamsSchema,
        querystring: photoListQuerySchema,
        response: { 200: photoPageSchema, ...errors(400, 401, 404, 429) },
      },
    },
    async (request, reply) => {
      const page = await photos.listPhotos(
        ctx,
        request.user,
        request.params.id,
        request.query,
        originOf(request),
      );
      return reply.header("cache-control", "private, no-store").send(page);
    },
  );

  api.get(
    "/api/events/:id/photos/archive",
    {
      schema: {
        tags,
        summary: "Every ready photo of the event as one zip, streamed (organizer, moderator+)",
        security: SIGNED_IN,
        params: eventIdParamsSchema,
        response: { 200: ZIP, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      const event = await photos.findArchivableEvent(ctx, requireUser(request), request.params.id);
      const archive = Readable.from(writeZip(photos.listArchiveEntries(ctx, event.id)), {
        objectMode: false,
      });
      return reply
        .type("application/zip")
        .header("content-disposition", `attachment; filename="photos-${event.id}.zip"`)
        .header("cache-control", "private, no-store")
        .send(archive);
    },
  );

  api.get(
    "/api/events/:id/photos/:photoId",
    {
      schema: {
        tags,
        summary: "One photo: any status for its uploader and the organizer, ready ones for everyone",
        security: SIGNED_IN_OR_ANONYMOUS,
        params: photoParamsSchema,
        response: { 200: photoSchema, ...errors(400, 401, 404, 429) },
      },
    },
    async (request, reply) => {
      const { id, photoId } = request.params;
      const photo = await photos.getPhoto(ctx, request.user, id, photoId, originOf(request));
      return reply.header("cache-control", "private, no-store").send(photo);
    },
  );

  api.delete(
    "/api/events/:id/photos/:photoId",
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: "Delete a photo (its uploader, the organizer, moderator+); the wall drops it at once",
        security: SIGNED_IN,
        params: photoParamsSchema,
        response: { 204: z.null().describe("Deleted"), ...errors(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const { id, photoId } = request.params;
      await photos.deletePhoto(ctx, requireUser(request), id, photoId);
      return reply.code(204).send(null);
    },
  );
  done();
};
