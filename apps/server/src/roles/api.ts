import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import fastifyStatic from "@fastify/static";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance, FastifyReply } from "fastify";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import type { Deps } from "../deps.ts";
import { authRoutes, requireRole } from "../modules/auth/index.ts";
import {
  createEventReadCaches,
  eventRoutes,
  findEventAccess,
  participantEventRoutes,
} from "../modules/events/index.ts";
import { mailRoutes } from "../modules/mail/index.ts";
import { notificationsRoutes } from "../modules/notifications/index.ts";
import { participationRoutes } from "../modules/participation/index.ts";
import { photosRoutes } from "../modules/photos/index.ts";
import { analyticsRoutes, sourcesRoutes } from "../modules/interactions/index.ts";
import { installIdempotency } from "../platform/idempotency/idempotency.ts";
import { jobAdminRoutes } from "../platform/jobs/jobs.routes.ts";
import { mailOptionsOf, notificationsOptionsOf, photosOptionsOf } from "./module-options.ts";

const WEB_ROOT = resolve(import.meta.dirname, "../../../web/dist");

/** The api role: REST routes, the OpenAPI document and its reference page, and the built web app. */
export async function registerApiRole(app: FastifyInstance, deps: Deps) {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Turnout API",
        version: "1.0.0",
        description: "Events, participation, real time and analytics.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, {
    routePrefix: "/api/docs",
    // Swagger UI sets one inline style as it renders; its scripts stay as strict as the web app's.
    transformStaticCSP: (header) => header.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
  });
  app.get("/api/openapi.json", { schema: { hide: true } }, () => app.swagger());
  installIdempotency(app, deps, { scopeOf: (request) => request.user?.id ?? null });
  // Registered in the order of the OpenAPI document.
  await app.register(authRoutes, { deps });
  await app.register(jobAdminRoutes, {
    jobs: deps.jobs,
    requireAdmin: (request) => requireRole(request, "admin"),
  });
  await deps.storage.registerRoutes(app);
  const caches = createEventReadCaches(deps.config.readCacheMs, deps.clock);
  await app.register(eventRoutes, { deps, caches });
  // A participation change alters the event's counters: its shared page must not outlive it here.
  await app.register(participationRoutes, {
    deps,
    onAdmissionChange: (eventId) => {
      caches.pages.forget(eventId);
    },
  });
  await app.register(participantEventRoutes, { deps });
  await app.register(photosRoutes, photosOptionsOf(deps));
  await app.register(notificationsRoutes, notificationsOptionsOf(deps));
  await app.register(mailRoutes, mailOptionsOf(deps));
  await app.register(sourcesRoutes, { db: deps.db, clock: deps.clock });
  await app.register(analyticsRoutes, {
    db: deps.db,
    clock: deps.clock,
    canQueryEvent: async (user, eventId) => (await findEventAccess(deps.db, user, eventId)).canManage,
  });

  return { serveIndex: await registerWebApp(app) };
}

async function registerWebApp(app: FastifyInstance): Promise<(reply: FastifyReply) => FastifyReply> {
  const indexFile = resolve(WEB_ROOT, "index.html");
  if (!existsSync(indexFile)) {
    app.log.warn({ webRoot: WEB_ROOT }, "web app not built; run `npm run build -w apps/web`");
    return (reply) =>
      reply.status(503).type("text/plain").send("The web app is not built: run `npm run build -w apps/web`.");
  }
  await app.register(fastifyStatic, {
    root: WEB_ROOT,
    wildcard: false,
    index: false,
    // The build writes .br and .gz beside each text file (apps/web/vite.config.ts): sent as the browser accepts.
    preCompressed: true,
    setHeaders: (reply, path) => {
      // Files under assets/ carry a hash of their content in the name: a new build gets new names.
      const isHashed = path.startsWith(resolve(WEB_ROOT, "assets"));
      reply.header(
        "cache-control",
        isHashed ? "public, max-age=31536000, immutable" : "public, max-age=3600",
      );
    },
  });
  const indexHtml = await readFile(indexFile);
  // Client-side routes (/events/123) all load the same shell; it must never be cached stale.
  return (reply) => reply.type("text/html").header("cache-control", "no-cache").send(indexHtml);
}
