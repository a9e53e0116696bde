import { collectBodySchema, collectResultSchema, COLLECT_BATCH_MAX_ITEMS } from "@turnout/contracts";
import type { FastifyPluginCallback, FastifyRequest, FastifySchemaCompiler } from "fastify";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z, type ZodType } from "zod";
import type { Clock } from "../../platform/clock.ts";
import { AppError, errorResponses, serviceUnavailable } from "../../platform/errors.ts";
import type { Metrics } from "../../platform/metrics.ts";
import { createWindowCounter, rateLimitedError } from "../../platform/rate-limit.ts";
import { findUnstorableStrings } from "../../platform/validation.ts";
import { batchOfRequest, type Rejection } from "./accept-batch.ts";
import { stampRequest } from "./client-stamps.ts";
import { installCollectorBodyParser, mayHoldUnstorable } from "./collector-body.ts";
import type { InteractionStream } from "./interaction-stream.ts";
import { fromSegmentMessage, SEGMENT_TYPES, type SegmentType, writeKeyFromBasicAuth } from "./segment.ts";
import type { WriteKeys } from "./write-keys.ts";

export interface CollectorOptions {
  stream: InteractionStream;
  writeKeys: WriteKeys;
  metrics: Metrics;
  clock: Clock;
  /** Requests per source per minute (0 = no limit); replaces the per-address request limit on these routes. */
  requestsPerSourcePerMinute: number;
}

const tags = ["collector"];
// Seconds a sender waits when the stream is backed up: the processor drains a backlog in about that.
const BACKED_UP_RETRY_MS = 1_000;

/** True for the collector's routes, which the per-address request limit leaves to the per-source one. */
export function isCollectorRequest(request: FastifyRequest): boolean {
  const path = request.url.split("?", 1)[0] ?? "";
  return path === "/api/collect" || path.startsWith("/v1/");
}

/**
 * The collector (API.md "Interactions (analytics) — collector"): POST /api/collect and the Segment-compatible
 * /v1/* routes. Validates item by item, stamps, appends to the stream and answers once the append is durable.
 * No database work on the request path: write keys come from memory (write-keys.ts).
 */
export const collectorRoutes: FastifyPluginCallback<CollectorOptions> = (app, options, done) => {
  const api = app.withTypeProvider<ZodTypeProvider>();
  installCollectorBodyParser(app, "application/json");
  // navigator.sendBeacon can only send text/plain (without a CORS preflight): read it as JSON.
  installCollectorBodyParser(app, "text/plain");
  app.setValidatorCompiler(validateBatchShape);
  // Trackers run on other sites: their text/plain POSTs need no preflight, but reading the answer needs this.
  app.addHook("onRequest", (request, reply, done) => {
    void reply.header("access-control-allow-origin", "*");
    // Refused before the body is read: under backpressure a 429 must cost next to nothing, not a JSON parse.
    if (request.method === "POST" && options.stream.isBackedUp()) {
      done(rateLimitedError(BACKED_UP_RETRY_MS));
      return;
    }
    done();
  });
  const collect = createCollect(options);

  api.post(
    "/api/collect",
    {
      schema: {
        tags,
        summary: "Send a batch of interactions",
        description:
          "Valid items are kept even when others are rejected (reported by index). 202 once the batch is durably appended. Also accepts the JSON as text/plain (navigator.sendBeacon).",
        body: collectBodySchema,
        response: { 202: collectResultSchema, ...errorResponses(400, 401, 413, 429, 503) },
      },
    },
    async (request, reply) => {
      const result = await collect(request, request.body.writeKey, request.body.batch);
      return reply.code(202).send(result);
    },
  );

  const segmentSuccess = z.object({ success: z.literal(true) });
  api.post(
    "/v1/batch",
    {
      schema: {
        tags,
        summary: "Segment-compatible batch (HTTP Basic auth: the write key as user)",
        body: z.object({
          batch: z.array(z.unknown()),
          writeKey: z.string().min(1).max(200).optional(),
        }),
        response: { 200: segmentSuccess, ...errorResponses(400, 401, 413, 429, 503) },
      },
    },
    async (request) => {
      const writeKey = writeKeyFromBasicAuth(request.headers.authorization) ?? request.body.writeKey;
      const receivedAt = options.clock.now().toISOString();
      const batch = request.body.batch.map((message) => fromSegmentMessage(message, receivedAt));
      await collect(request, writeKey, batch);
      return { success: true as const };
    },
  );

  for (const type of SEGMENT_TYPES) {
    api.post(
      `/v1/${type}`,
      {
        schema: {
          tags,
          summary: `Segment-compatible ${type} call (HTTP Basic auth: the write key as user)`,
          body: z.record(z.string(), z.unknown()),
          response: { 200: segmentSuccess, ...errorResponses(400, 401, 413, 429, 503) },
        },
      },
      async (request) => {
        const body = request.body;
        const writeKey =
          writeKeyFromBasicAuth(request.headers.authorization) ??
          (typeof body.writeKey === "string" && body.writeKey !== "" ? body.writeKey : undefined);
        const receivedAt = options.clock.now().toISOString();
        await collect(request, writeKey, [fromSegmentMessage(body, receivedAt, type satisfies SegmentType)]);
        return { success: true as const };
      },
    );
  }
  done();
};

function createCollect(options: CollectorOptions) {
  const { stream, writeKeys, metrics, clock } = options;
  const perSource = createWindowCounter({ windowMs: 60_000, maxKeys: 10_000 });
  return async (
    request: FastifyRequest,
    writeKey: string | undefined,
    items: readonly unknown[],
  ): Promise<{ accepted: number; rejected: Rejection[] }> => {
    const sourceId = writeKeys.sourceOf(writeKey);
    if (sourceId === null) throw new AppError("source.invalid_key", "The write key is unknown or revoked.");
    if (items.length > COLLECT_BATCH_MAX_ITEMS) {
      throw new AppError("request.too_large", `A batch holds at most ${COLLECT_BATCH_MAX_ITEMS} items.`);
    }
    const now = clock.now();
    const limit = options.requestsPerSourcePerMinute;
    if (limit > 0 && perSource.count(sourceId, now.getTime()) > limit) {
      throw rateLimitedError(perSource.windowEndsAt() - now.getTime());
    }
    const stamp = stampRequest(sourceId, now, request.ip, request.headers["user-agent"]);
    const { appended, accepted, rejected } = batchOfRequest(items, stamp, {
      receivedAt: now,
      mayHoldUnstorable: mayHoldUnstorable(request),
    });
    if (appended !== undefined) {
      try {
        await stream.append(appended);
      } catch (error) {
        throw serviceUnavailable(error);
      }
    }
    metrics.interactions.inc({ stage: "accepted" }, accepted);
    metrics.interactions.inc({ stage: "rejected" }, rejected.length);
    return { accepted, rejected };
  };
}

/**
 * Checks the body's shape with zod and refuses unstorable strings outside the batch items; the items are
 * checked one by one afterwards, so one bad item (a NUL in a property) costs only itself (API.md).
 */
const validateBatchShape: FastifySchemaCompiler<ZodType> = (routeSchema) => {
  const validate = validatorCompiler(routeSchema);
  return (data: unknown) => {
    const outside =
      typeof data === "object" && data !== null && !Array.isArray(data)
        ? Object.fromEntries(Object.entries(data).filter(([key]) => key !== "batch"))
        : data;
    const details = findUnstorableStrings(outside);
    if (details.length > 0) {
      return { error: new AppError("validation.failed", "The request is not valid.", details) };
    }
    return validate(data);
  };
};
