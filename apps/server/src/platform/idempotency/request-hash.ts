import { createHash } from "node:crypto";

export const MAX_KEY_LENGTH = 200;

/** JSON with object keys sorted at every depth, so `{a,b}` and `{b,a}` are the same request. */
export function canonicalJson(value: unknown): string {
  // A request without a body (undefined) hashes like a JSON null; JSON.stringify would answer undefined.
  return value === undefined ? "null" : JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  // JSON.stringify would call toJSON (Date, ...) itself; objects with one are kept as they are.
  if ("toJSON" in value && typeof value.toJSON === "function") return value;
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, item]) => [key, sortKeys(item)]));
}

/** What "the same request" means for a key: SHA-256 of method, URL (path and query) and canonical body. */
export function hashRequest(method: string, url: string, body: unknown): string {
  return createHash("sha256")
    .update(`${method.toUpperCase()}\n${url}\n${canonicalJson(body)}`)
    .digest("hex");
}

/** The Idempotency-Key header checked: undefined when absent, an error text when not 1..200 characters. */
export function readKey(header: string | string[] | undefined): { key?: string; problem?: string } {
  if (header === undefined) return {};
  if (Array.isArray(header)) return { problem: "Send one Idempotency-Key header." };
  if (header.length < 1 || header.length > MAX_KEY_LENGTH) {
    return { problem: `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters.` };
  }
  return { key: header };
}

/**
 * Whether an answer is kept for replays: 2xx and 4xx are, except 429 and the 409 idempotency.in_progress
 * (both say "try again", so a retry must run); 5xx is not, so a retry can succeed.
 */
export function isStorableResponse(status: number, body: unknown): boolean {
  if (status === 429) return false;
  if (status === 409 && readErrorCode(body) === "idempotency.in_progress") return false;
  return (status >= 200 && status < 300) || (status >= 400 && status < 500);
}

function readErrorCode(body: unknown): unknown {
  if (typeof body !== "object" || body === null || !("error" in body)) return undefined;
  const error = body.error;
  return typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
}
