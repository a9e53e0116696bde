import type { ValidationDetail } from "@turnout/contracts";
import type { FastifyInstance, FastifySchemaCompiler } from "fastify";
import { validatorCompiler } from "fastify-type-provider-zod";
import type { ZodType } from "zod";
import { AppError } from "./errors.ts";

/**
 * The one validator of every route's params, query, body and headers: zod's, behind a check that no string
 * (value or key, at any depth) holds a NUL or an unpaired surrogate. PostgreSQL refuses NUL in text and jsonb,
 * and a lone surrogate would be stored as U+FFFD, so both are refused here, once, for every present and future
 * route (API.md Conventions).
 */
export const validateRequestPart: FastifySchemaCompiler<ZodType> = (routeSchema) => {
  const validate = validatorCompiler(routeSchema);
  return (data: unknown) => {
    const details = findUnstorableStrings(data);
    if (details.length > 0) {
      return { error: new AppError("validation.failed", "The request is not valid.", details) };
    }
    return validate(data);
  };
};

/**
 * One detail per string that PostgreSQL cannot store faithfully, with its dot-joined path. Recursion is safe:
 * JSON bodies are at most MAX_JSON_DEPTH deep (installJsonBodyParser) and query strings are flat.
 */
export function findUnstorableStrings(data: unknown): ValidationDetail[] {
  const details: ValidationDetail[] = [];
  const visit = (value: unknown, path: string[]): void => {
    if (typeof value === "string") {
      if (!isStorable(value)) details.push({ path: path.join("."), message: UNSTORABLE });
      return;
    }
    if (typeof value !== "object" || value === null) return;
    for (const [key, item] of Object.entries(value)) {
      if (!isStorable(key)) details.push({ path: path.join("."), message: `has a key that ${UNSTORABLE}` });
      visit(item, [...path, key]);
    }
  };
  visit(data, []);
  return details;
}

const UNSTORABLE = "must not contain NUL characters or unpaired surrogates";
// With the u flag a well-formed pair is one code point; only an unpaired half is a surrogate (Cs) code point.
const NUL_OR_LONE_SURROGATE = /[\0\p{Cs}]/u;

function isStorable(text: string): boolean {
  return !NUL_OR_LONE_SURROGATE.test(text);
}

/** How deeply a JSON body may nest; no route needs more, and every walk over a body may then recurse. */
export const MAX_JSON_DEPTH = 64;

/**
 * Fastify's own JSON parser (which refuses `__proto__` and `constructor.prototype` keys, as by default), refusing
 * bodies nested deeper than MAX_JSON_DEPTH with 400 request.malformed: a deep body would otherwise overflow the
 * stack of the first code that walks it (hashing for idempotency, validation). Another `contentType` reads that
 * type as JSON too (the collector's text/plain, which navigator.sendBeacon sends).
 */
export function installJsonBodyParser(app: FastifyInstance, contentType = "application/json"): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser(contentType);
  app.addContentTypeParser(contentType, { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    void parseJson(request, text, (error: Error | null, value?: unknown) => {
      if (error !== null) done(error);
      else if (depthOf(value) > MAX_JSON_DEPTH) {
        done(new AppError("request.malformed", `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`));
      } else done(null, value);
    });
  });
}

/** Nesting depth of a parsed JSON value, walked without recursion. */
function depthOf(root: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[root, 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, depth] = next;
    if (typeof value !== "object" || value === null) continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const item of Object.values(value)) stack.push([item, depth + 1]);
  }
  return deepest;
}
