import type { ValidationDetail } from "@turnout/contracts";
import type { FastifySchemaCompiler } from "fastify";
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

const MAX_DEPTH = 64;

/** One detail per string that PostgreSQL cannot store faithfully, with its dot-joined path. */
export function findUnstorableStrings(data: unknown): ValidationDetail[] {
  const details: ValidationDetail[] = [];
  const visit = (value: unknown, path: string[], depth: number): void => {
    if (typeof value === "string") {
      if (!isStorable(value)) details.push({ path: path.join("."), message: UNSTORABLE });
      return;
    }
    if (typeof value !== "object" || value === null) return;
    if (depth > MAX_DEPTH) {
      details.push({ path: path.join("."), message: "is nested too deeply" });
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      if (!isStorable(key)) details.push({ path: path.join("."), message: `has a key that ${UNSTORABLE}` });
      visit(item, [...path, key], depth + 1);
    }
  };
  visit(data, [], 0);
  return details;
}

const UNSTORABLE = "must not contain NUL characters or unpaired surrogates";
// With the u flag a well-formed pair is one code point; only an unpaired half is a surrogate (Cs) code point.
const NUL_OR_LONE_SURROGATE = /[\0\p{Cs}]/u;

function isStorable(text: string): boolean {
  return !NUL_OR_LONE_SURROGATE.test(text);
}
