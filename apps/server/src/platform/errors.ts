import { type ErrorBody, type ErrorCode, errorBodySchema, type ValidationDetail } from "@turnout/contracts";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { isDatabaseOutage } from "./db-unavailable.ts";

const STATUS: Record<ErrorCode, number> = {
  "validation.failed": 400,
  "request.malformed": 400,
  "request.too_large": 413,
  "request.unsupported_media_type": 415,
  "request.uri_too_long": 414,
  "request.headers_too_large": 431,
  "request.timeout": 408,
  "route.not_found": 404,
  "auth.required": 401,
  "auth.invalid_token": 401,
  "auth.token_expired": 401,
  "auth.forbidden": 403,
  "auth.invalid_credentials": 401,
  "auth.email_taken": 409,
  "auth.token_reused": 401,
  "user.not_found": 404,
  "user.last_admin": 409,
  rate_limited: 429,
  "idempotency.mismatch": 422,
  "idempotency.in_progress": 409,
  "job.not_found": 404,
  "event.not_found": 404,
  "event.invalid_state": 409,
  "event.in_past": 409,
  "event.capacity_below_confirmed": 409,
  "event.full": 409,
  "event.closed": 410,
  "join.forbidden": 403,
  "participation.not_found": 404,
  "ticket.unavailable": 409,
  "ticket.invalid": 400,
  "calendar.not_found": 404,
  "resource.version_mismatch": 412,
  "photo.not_found": 404,
  "photo.too_large": 413,
  "photo.unsupported_type": 415,
  "upload.not_found": 404,
  "upload.missing": 400,
  "source.invalid_key": 401,
  "source.not_found": 404,
  "service.unavailable": 503,
  internal: 500,
  "unsubscribe.invalid_token": 400,
  "mail.not_found": 404,
};

/** The one error type: a stable code (API.md), a human message, optional details and headers. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;
  constructor(code: ErrorCode, message: string, details?: unknown, headers?: Record<string, string>) {
    // A client's mistake needs no stack trace, and capturing one is most of what a refusal costs: a flash
    // crowd gets a thousand `event.full` answers a second.
    const stackTraceLimit = Error.stackTraceLimit;
    if (STATUS[code] < 500) Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.code = code;
    this.status = STATUS[code];
    this.details = details;
    this.headers = headers;
  }
}

/** Seconds a client is asked to wait after a 503: about what a supervised PostgreSQL restart takes. */
export const RETRY_AFTER_SECONDS = 5;

/** The 503 answer for a dependency that does not answer; `cause` stays attached for the log. */
export function serviceUnavailable(cause: unknown): AppError {
  const error = new AppError(
    "service.unavailable",
    "A service this request needs is not answering; try again shortly.",
    undefined,
    { "retry-after": String(RETRY_AFTER_SECONDS) },
  );
  error.cause = cause;
  return error;
}

/** Maps a zod-style issue path to the dot-joined path of API.md. */
export function toDetailPath(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

// API.md: one detail per bad field. A schema whose checks pile up on one field still answers once for it.
function keepFirstPerPath(details: ValidationDetail[]): ValidationDetail[] {
  const seen = new Set<string>();
  return details.filter((detail) => !seen.has(detail.path) && seen.add(detail.path));
}

function fromFastifyError(error: FastifyError): AppError {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details: ValidationDetail[] = error.validation.map((item) => ({
      path: item.instancePath.split("/").filter(Boolean).join("."),
      message: item.message ?? "is invalid",
    }));
    return new AppError("validation.failed", "The request is not valid.", keepFirstPerPath(details));
  }
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new AppError("request.malformed", "The request body is not valid JSON.");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("request.too_large", "The request body is too large.");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError("request.unsupported_media_type", "The content type is not supported.");
    default:
      break;
  }
  if (error instanceof SyntaxError)
    return new AppError("request.malformed", "The request body is not valid JSON.");
  if (error.statusCode === 429) return new AppError("rate_limited", "Too many requests; try again later.");
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new AppError("request.malformed", error.message);
  }
  // A lost or unanswering database (also through pg-boss's own pool) is an outage, not a bug.
  if (isDatabaseOutage(error)) return serviceUnavailable(error);
  return new AppError("internal", "Something went wrong on our side.");
}

function toBody(appError: AppError): ErrorBody {
  return {
    error: {
      code: appError.code,
      message: appError.message,
      ...(appError.details === undefined ? {} : { details: appError.details }),
    },
  };
}

/** Answers with an AppError's status, headers and the contract's body. */
export function sendAppError(appError: AppError, reply: FastifyReply): FastifyReply {
  if (appError.headers) void reply.headers(appError.headers);
  return reply.status(appError.status).send(toBody(appError));
}

/** Installs the one error handler; call before any route is registered so every route uses it. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const appError = error instanceof AppError ? error : fromFastifyError(error);
    // An outage is no bug to fix: a warning per refused request, while the supervisor says what went wrong.
    if (appError.code === "service.unavailable") request.log.warn({ err: error }, "request failed: outage");
    else if (appError.status >= 500) request.log.error({ err: error }, "request failed");
    return sendAppError(appError, reply);
  });
}

/**
 * Fastify's `frameworkErrors` option: the router refuses a URL before any route or error handler runs (a
 * path parameter over maxParamLength, a malformed percent-encoding), and would answer with its own body.
 */
export function answerFrameworkError(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const appError =
    error.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? new AppError("request.uri_too_long", "A path segment of this URL is too long.")
      : new AppError("request.malformed", "The URL is not valid.");
  void sendAppError(appError, reply);
}

function fromParserError(error: NodeJS.ErrnoException): AppError {
  if (error.code === "HPE_HEADER_OVERFLOW")
    return new AppError("request.headers_too_large", "The request headers are too large.");
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT")
    return new AppError("request.timeout", "The request took too long to arrive.");
  return new AppError("request.malformed", "The request is not valid HTTP.");
}

/**
 * Fastify's `clientErrorHandler` option: node's HTTP parser failed (headers too large, a broken request
 * line, a request that never finished), so there is no request to reply to. Answers on the raw socket with
 * the contract's body and closes it, as node's own handler does.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to read an answer.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable) {
    const appError = fromParserError(error);
    const body = JSON.stringify(toBody(appError));
    socket.write(
      `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status] ?? "Error"}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Unknown paths under /api and /v1 are 404 `route.not_found`; any other GET serves the web app when there is one. */
export function installNotFoundHandler(
  app: FastifyInstance,
  serveWebApp?: (reply: FastifyReply) => FastifyReply,
): void {
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?", 1)[0] ?? "";
    const isApiPath = /^\/(api|v1)(\/|$)/.test(path);
    if (!isApiPath && serveWebApp && request.method === "GET") return serveWebApp(reply);
    throw new AppError("route.not_found", `No route ${request.method} ${path}.`);
  });
}

/** Route schema `response` entries for the error statuses a route may answer, all with the error body. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorBodySchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorBodySchema]));
}
