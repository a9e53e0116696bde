import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "../../platform/errors.ts";
import { MAX_JSON_DEPTH } from "../../platform/validation.ts";

/*
 * The collector's JSON body parser: the platform's (installJsonBodyParser: fastify's parser, 400
 * request.malformed past MAX_JSON_DEPTH), with the depth read from the text in one pass instead of a walk over
 * the parsed value, and, in the same pass, whether the text holds an escape that can make a string PostgreSQL
 * cannot store (\u0000, or a \uD800-\uDFFF half of a pair). A body without one cannot hold such a string, so
 * the collector skips its walk for them (accept-batch.ts). Both walks were a tenth of the collector's time.
 */

const requestsWithoutRiskyEscapes = new WeakSet<FastifyRequest>();

/** False only when the request's JSON body surely holds no NUL and no lone surrogate. */
export function mayHoldUnstorable(request: FastifyRequest): boolean {
  return !requestsWithoutRiskyEscapes.has(request);
}

/** Reads `contentType` bodies as JSON on this plugin's routes. */
export function installCollectorBodyParser(app: FastifyInstance, contentType: string): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser(contentType);
  app.addContentTypeParser(contentType, { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    void parseJson(request, text, (error: Error | null, value?: unknown) => {
      if (error !== null) {
        done(error);
        return;
      }
      const scan = scanJsonText(text);
      if (scan.depth > MAX_JSON_DEPTH) {
        done(new AppError("request.malformed", `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`));
        return;
      }
      if (!scan.hasRiskyEscape) requestsWithoutRiskyEscapes.add(request);
      done(null, value);
    });
  });
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const LOWER_U = 0x75;

/**
 * Of a text JSON.parse accepted: how deep its objects and arrays nest (as deep as the parsed value), and
 * whether a string holds a `\u` escape of NUL or of a surrogate (conservative: a well-formed pair counts).
 */
export function scanJsonText(text: string): { depth: number; hasRiskyEscape: boolean } {
  // The common body has no backslash at all: then its strings are skipped whole (indexOf), not char by char.
  if (!text.includes("\\")) return { depth: depthWithoutEscapes(text), hasRiskyEscape: false };
  let depth = 0;
  let deepest = 0;
  let hasRiskyEscape = false;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === QUOTE) inString = false;
      else if (code === BACKSLASH) {
        if (text.charCodeAt(index + 1) === LOWER_U && isRiskyEscape(text, index + 2)) hasRiskyEscape = true;
        index++; // the escaped character (a \u escape's hex digits are never a quote or a backslash)
      }
    } else if (code === QUOTE) inString = true;
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
  }
  return { depth: deepest, hasRiskyEscape };
}

/** The nesting depth of a JSON text without escapes: each string ends at the next quote. */
function depthWithoutEscapes(text: string): number {
  let depth = 0;
  let deepest = 0;
  let index = 0;
  while (index < text.length) {
    const quote = text.indexOf('"', index);
    const end = quote === -1 ? text.length : quote;
    for (; index < end; index++) {
      const code = text.charCodeAt(index);
      if (code === OPEN_BRACE || code === OPEN_BRACKET) {
        depth++;
        if (depth > deepest) deepest = depth;
      } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
    }
    const closing = quote === -1 ? -1 : text.indexOf('"', quote + 1);
    if (closing === -1) break;
    index = closing + 1;
  }
  return deepest;
}

/** The four hex digits at `at` are 0000 or D800..DFFF. */
function isRiskyEscape(text: string, at: number): boolean {
  const hex = text.slice(at, at + 4);
  if (hex === "0000") return true;
  const first = hex.charCodeAt(0) | 0x20; // lower case
  const second = hex.charCodeAt(1) | 0x20;
  return first === 0x64 /* d */ && (second === 0x38 || second === 0x39 || (second >= 0x61 && second <= 0x66));
}
