import {
  mailIdParamsSchema,
  mailListQuerySchema,
  mailMessagePageSchema,
  mailPreferencesBodySchema,
  mailPreferencesSchema,
  unsubscribeQuerySchema,
} from "@turnout/contracts";
import type { FastifyPluginCallback, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses as errors } from "../../platform/errors.ts";
import { requireRole, requireUser, SIGNED_IN } from "../auth/index.ts";
import type { MailContext } from "./mail-context.ts";
import * as mail from "./mail.service.ts";
import { confirmPage, donePage } from "./unsubscribe-page.ts";

const HTML = z.string().meta({
  description: "An HTML page",
  content: { "text/html": { schema: { type: "string" } } },
});
const EML = z.string().meta({
  description: "The mail as sent (RFC 5322)",
  content: { "message/rfc822": { schema: { type: "string" } } },
});

/**
 * API.md "Announcements and notifications": the caller's mail preferences, the unsubscribe link's page and
 * one-click endpoint (no login: the signed token is the credential), and the admin's list of mails.
 */
export const mailRoutes: FastifyPluginCallback<MailContext> = (app, ctx, done) => {
  const api = app.withTypeProvider<ZodTypeProvider>();
  // A mail client's one-click unsubscribe (RFC 8058, which names multipart/form-data first and allows
  // application/x-www-form-urlencoded) and the page's button post a form; its one field
  // (List-Unsubscribe=One-Click) says nothing the token does not, so the body is read and dropped.
  app.addContentTypeParser(
    ["application/x-www-form-urlencoded", "multipart/form-data"],
    { parseAs: "string", bodyLimit: 4096 },
    (_request, _body, parsed) => {
      parsed(null, {});
    },
  );

  api.get(
    "/api/me/preferences",
    {
      schema: {
        tags: ["me"],
        summary: "Which mails the caller wants, and in which language",
        security: SIGNED_IN,
        response: { 200: mailPreferencesSchema, ...errors(401, 429) },
      },
    },
    async (request, reply) => {
      const preferences = await mail.getPreferences(ctx, requireUser(request));
      return reply.header("cache-control", "private, no-store").send(preferences);
    },
  );

  api.put(
    "/api/me/preferences",
    {
      config: { idempotent: true },
      schema: {
        tags: ["me"],
        summary: "Set which mails the caller wants; without locale, Accept-Language names it the first time",
        security: SIGNED_IN,
        body: mailPreferencesBodySchema,
        response: { 200: mailPreferencesSchema, ...errors(400, 401, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const preferences = await mail.putPreferences(
        ctx,
        requireUser(request),
        request.body,
        request.headers["accept-language"],
      );
      return reply.header("cache-control", "private, no-store").send(preferences);
    },
  );

  api.get(
    "/api/mail/unsubscribe",
    {
      schema: {
        tags: ["mail"],
        summary: "The page an unsubscribe link opens: what it turns off, and a button that does it",
        querystring: unsubscribeQuerySchema,
        response: { 200: HTML, ...errors(400, 429) },
      },
    },
    async (request, reply) => {
      const { locale, preference } = await mail.describeUnsubscribe(
        ctx,
        request.query.token,
        request.headers["accept-language"],
      );
      const action = `/api/mail/unsubscribe?token=${encodeURIComponent(request.query.token)}`;
      return sendPage(reply, confirmPage(locale, preference, action));
    },
  );

  api.post(
    "/api/mail/unsubscribe",
    {
      schema: {
        tags: ["mail"],
        summary: "One-click unsubscribe (RFC 8058): turns off the preference the signed token names",
        querystring: unsubscribeQuerySchema,
        response: { 200: HTML, ...errors(400, 415, 429) },
      },
    },
    async (request, reply) => {
      const { locale, preference } = await mail.unsubscribe(
        ctx,
        request.query.token,
        request.headers["accept-language"],
      );
      return sendPage(reply, donePage(locale, preference));
    },
  );

  api.get(
    "/api/admin/mail",
    {
      schema: {
        tags: ["admin"],
        summary: "Every mail, newest first: to whom, what, and whether it left (admin)",
        security: SIGNED_IN,
        querystring: mailListQuerySchema,
        response: { 200: mailMessagePageSchema, ...errors(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      requireRole(request, "admin");
      const page = await mail.listMails(ctx, request.query);
      return reply.header("cache-control", "private, no-store").send(page);
    },
  );

  api.get(
    "/api/admin/mail/:id/eml",
    {
      schema: {
        tags: ["admin"],
        summary: "One mail as written to DATA_DIR/mail (embedded mode; admin)",
        security: SIGNED_IN,
        params: mailIdParamsSchema,
        response: { 200: EML, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      requireRole(request, "admin");
      const eml = await mail.readEml(ctx, request.params.id);
      return reply
        .header("cache-control", "private, no-store")
        .type("message/rfc822")
        .header("content-disposition", `attachment; filename="${request.params.id}.eml"`)
        .send(eml.toString("utf8"));
    },
  );
  done();
};

function sendPage(reply: FastifyReply, html: string) {
  return reply.header("cache-control", "private, no-store").type("text/html; charset=utf-8").send(html);
}
