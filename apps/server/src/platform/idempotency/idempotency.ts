import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Deps } from "../../deps.ts";
import { AppError } from "../errors.ts";
import { claimKey, findKey, type KeyRef, releaseKey, storeResponse } from "./idempotency.repo.ts";
import { hashRequest, isStorableResponse, MAX_KEY_LENGTH, readKey } from "./request-hash.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Opt a route into Idempotency-Key handling (API.md "Idempotency"). */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    /** Set while this request holds an idempotency key; the onSend hook records the answer under it. */
    idempotencyClaim: KeyRef | null;
  }
}

export const KEY_RETENTION_MS = 24 * 60 * 60 * 1000;
// A key still "running" after this long belongs to a request whose process died; a retry may take it.
export const IN_PROGRESS_LEASE_MS = 5 * 60 * 1000;
const HEADER = "idempotency-key";

export interface IdempotencyOptions {
  /** The scope of a key: the signed-in user's id, or null for anonymous requests (which ignore the header). */
  scopeOf: (request: FastifyRequest) => string | null;
}

/**
 * Makes every route with `config: { idempotent: true }` honour Idempotency-Key: the first request runs and
 * its answer is kept 24 h; a repeat gets that answer with `Idempotent-Replayed: true`; the same key for a
 * different request is 422; a repeat while the first runs is 409. Install before the routes it covers.
 */
export function installIdempotency(
  app: FastifyInstance,
  deps: Pick<Deps, "db" | "clock">,
  options: IdempotencyOptions,
): void {
  app.decorateRequest("idempotencyClaim", null);
  app.addHook("onRoute", (route) => {
    if (route.config?.idempotent !== true || route.schema?.headers !== undefined) return;
    // Documents the header in OpenAPI; the checks live in the hook below (anonymous callers are exempt).
    const description = `1..${MAX_KEY_LENGTH} characters; a retry with the same key replays the first answer.`;
    route.schema = {
      ...route.schema,
      headers: z.looseObject({ [HEADER]: z.string().optional().describe(description) }),
    };
  });
  app.addHook("preValidation", async (request, reply) => {
    if (request.routeOptions.config.idempotent !== true) return;
    const userId = options.scopeOf(request);
    if (userId === null) return;
    const { key, problem } = readKey(request.headers[HEADER]);
    if (problem !== undefined)
      throw new AppError("validation.failed", problem, [{ path: HEADER, message: problem }]);
    if (key === undefined) return;
    const ref = { userId, key, requestHash: hashRequest(request.method, request.url, request.body) };
    return claimOrReplay(deps, request, reply, ref);
  });
  app.addHook("onSend", async (request, reply, payload) => {
    // Routes of plugins registered before this one (the reference page) never saw the request decoration:
    // their claim reads undefined, not null. Only idempotent routes can hold a claim anyway.
    if (request.routeOptions.config.idempotent !== true) return payload;
    const claim = request.idempotencyClaim;
    if (claim === null) return payload;
    request.idempotencyClaim = null;
    try {
      const body = parseBody(payload);
      if (isStorableResponse(reply.statusCode, body)) {
        const answer = { statusCode: reply.statusCode, body, headers: readReplayedHeaders(reply) };
        await storeResponse(deps.db, claim, answer);
      } else await releaseKey(deps.db, claim);
    } catch (error) {
      // The answer itself is fine; losing it from the store only means a retry finds the key running.
      request.log.error({ err: error }, "could not record the idempotent answer");
    }
    return payload;
  });
}

async function claimOrReplay(
  deps: Pick<Deps, "db" | "clock">,
  request: FastifyRequest,
  reply: FastifyReply,
  ref: KeyRef,
): Promise<FastifyReply | undefined> {
  // A key can vanish between the failed claim and the read (its holder answered 5xx); then claim again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const now = deps.clock.now();
    const times = {
      now,
      expiresAt: new Date(now.getTime() + KEY_RETENTION_MS),
      staleBefore: new Date(now.getTime() - IN_PROGRESS_LEASE_MS),
    };
    if (await claimKey(deps.db, ref, times)) {
      request.idempotencyClaim = ref;
      return undefined;
    }
    const stored = await findKey(deps.db, ref.userId, ref.key);
    if (stored === undefined) continue;
    if (stored.requestHash !== ref.requestHash) {
      throw new AppError("idempotency.mismatch", "This Idempotency-Key was used for a different request.");
    }
    if (stored.statusCode === null) break;
    void reply
      .code(stored.statusCode)
      .headers(stored.responseHeaders ?? {})
      .header("idempotent-replayed", "true");
    if (stored.responseBody === null) return reply.send();
    return reply.type("application/json; charset=utf-8").send(JSON.stringify(stored.responseBody));
  }
  throw new AppError(
    "idempotency.in_progress",
    "A request with this Idempotency-Key is still running; retry shortly.",
  );
}

// Headers that describe the answered resource, so a replay carries them too (API.md: ETag on versioned ones).
const REPLAYED_HEADERS = ["etag", "location"];

function readReplayedHeaders(reply: FastifyReply): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = reply.getHeader(name);
    if (typeof value === "string") headers[name] = value;
  }
  return headers;
}

function parseBody(payload: unknown): unknown {
  if (typeof payload !== "string" || payload === "") return undefined;
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return undefined;
  }
}
