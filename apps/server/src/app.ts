import cookie from "@fastify/cookie";
import helmet from "@fastify/helmet";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import { serializerCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config, ProcessRole } from "./config.ts";
import type { Deps } from "./deps.ts";
import { checkAuthBeforeValidation, installAuth, requestRateLimitKey } from "./modules/auth/index.ts";
import { isCollectorRequest } from "./modules/interactions/index.ts";
import { DOCUMENT_CSP_DIRECTIVES } from "./platform/content-security-policy.ts";
import { withDeadline } from "./platform/deadline.ts";
import { installDrain } from "./platform/drain.ts";
import {
  answerClientError,
  answerFrameworkError,
  installErrorHandler,
  installNotFoundHandler,
} from "./platform/errors.ts";
import { installHttpMetrics } from "./platform/metrics.ts";
import { installRequestRateLimit } from "./platform/rate-limit.ts";
import { installJsonBodyParser, validateRequestPart } from "./platform/validation.ts";
import { registerApiRole } from "./roles/api.ts";
import { registerCollectorRole, type CollectorRole } from "./roles/collector.ts";
import { registerRealtimeRole } from "./roles/realtime.ts";

export const JSON_BODY_LIMIT = 1024 * 1024;

/** Builds the HTTP app for the configured roles. Does not listen: main.ts does, tests use inject(). */
export async function buildApp(deps: Deps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: JSON_BODY_LIMIT,
    trustProxy: deps.config.trustProxy,
    // Per-request lines only when debugging: the latency histogram already covers every request.
    logController: new LogController({
      disableRequestLogging: deps.config.logLevel !== "debug" && deps.config.logLevel !== "trace",
    }),
    routerOptions: { ignoreTrailingSlash: true },
    // Every error answer carries the contract's body, also those Fastify and node would write themselves.
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    return503OnClosing: false,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validateRequestPart);
  installJsonBodyParser(app);
  app.setSerializerCompiler(serializerCompiler);

  installErrorHandler(app);
  installDrain(app, { graceMs: deps.config.shutdownGraceMs });
  installHttpMetrics(app, deps.metrics);
  if (deps.config.isTracingEnabled) {
    const { nameRequestSpans } = await import("./platform/tracing/request-spans.ts");
    nameRequestSpans(app);
  }
  skipDocumentHeadersOnJsonRoutes(app);
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: DOCUMENT_CSP_DIRECTIVES },
    crossOriginEmbedderPolicy: false,
  });
  await app.register(cookie);
  // Auth first: the per-minute request limit is keyed by the verified user.
  installAuth(app, deps);
  checkAuthBeforeValidation(app);
  installRequestRateLimit(
    app,
    { max: deps.config.rateLimits.requests, clock: deps.clock, isExempt: isCollectorRequest },
    requestRateLimitKey,
  );

  app.get("/healthz", { schema: { hide: true } }, () => ({ status: "ok" }));
  let collector: CollectorRole | undefined;
  app.get("/readyz", { schema: { hide: true } }, async (_request, reply) => {
    const problems = await findUnreadyDependencies(deps);
    // The collector warms its path before it takes traffic (ADR 0015).
    if (collector?.isWarm() === false) problems.push("warm-up");
    return reply
      .status(problems.length === 0 ? 200 : 503)
      .send({ status: problems.length === 0 ? "ready" : "unready", problems });
  });
  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );

  const web = deps.config.roles.has("api") ? await registerApiRole(app, deps) : undefined;
  // After the api role, whose OpenAPI document lists the routes registered from then on.
  if (deps.config.roles.has("collector")) collector = await registerCollectorRole(app, deps);
  // After the api role, so the OpenAPI document (when served) lists the real-time routes too.
  if (deps.config.roles.has("realtime")) await registerRealtimeRole(app, deps);
  installNotFoundHandler(app, web?.serveIndex);
  return app;
}

/**
 * Helmet's headers (frame, referrer, opener and origin policies, HSTS...) protect documents: the web app and
 * the reference page keep them. JSON routes answer machines and skip them, which makes a hot route such as
 * joining about a fifth cheaper (measured: 5,800 -> 6,900 authenticated requests/s on this machine).
 * Registered before helmet, whose own onRoute hook reads the flag.
 */
function skipDocumentHeadersOnJsonRoutes(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const isJson =
      (route.url.startsWith("/api/") && !route.url.startsWith("/api/docs")) ||
      route.url.startsWith("/v1/") ||
      ["/healthz", "/readyz", "/metrics"].includes(route.url);
    if (isJson) route.helmet = false;
  });
}

// Each check has its own deadline, well inside the 2 s API.md allows /readyz: a stalled dependency is unready.
const READINESS_CHECK_MS = 1_000;

type Dependency = "database" | "bus";

/**
 * What each role cannot serve without (ADR 0023): a process is ready when the dependencies of all its roles
 * answer, so the default process (every role) needs both, as API.md says. The collector's stream is on the
 * bus in cluster mode and in the database in embedded mode.
 */
export function readinessDependencies(config: Pick<Config, "roles" | "natsUrl">): Dependency[] {
  const needs: Record<ProcessRole, Dependency[]> = {
    api: ["database"],
    realtime: ["bus"],
    collector: [config.natsUrl === undefined ? "database" : "bus"],
    worker: ["database", "bus"],
  };
  const all = new Set([...config.roles].flatMap((role) => needs[role]));
  return (["database", "bus"] as const).filter((dependency) => all.has(dependency));
}

async function findUnreadyDependencies(deps: Deps): Promise<string[]> {
  const check: Record<Dependency, () => Promise<unknown>> = {
    database: () => deps.db.selectNoFrom((eb) => eb.lit(1).as("ok")).execute(),
    bus: () => deps.bus.ping(),
  };
  const needed = readinessDependencies(deps.config);
  const checks = await Promise.allSettled(
    needed.map((dependency) => withDeadline(check[dependency](), READINESS_CHECK_MS)),
  );
  return needed.filter((_dependency, index) => checks[index]?.status === "rejected");
}
