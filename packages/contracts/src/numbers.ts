import { z } from "zod";

/*
 * API.md promises one validation detail per bad field. zod's .int() also checks the safe-integer range, so
 * `1e308` against `.int().max(n)` fails twice (and first with a bound the client never heard of). Here the
 * bounds come first and stop at their first failure; the integer check runs only on numbers within them.
 */

/** An integer from `min` to `max` in a JSON body. */
export function boundedInt(min: number, max: number) {
  return z.number().min(min, { abort: true }).max(max, { abort: true }).int();
}

/** An integer from `min` to `max` in a query string or path (coerced from text). */
export function boundedIntParam(min: number, max: number) {
  return z.coerce.number().min(min, { abort: true }).max(max, { abort: true }).int();
}
