import { interactionSchema, type Interaction, type InteractionStamp } from "@turnout/contracts";
import { findUnstorableStrings } from "../../platform/validation.ts";
import { appendedBatchOf, type AppendedBatch } from "./interaction-stream.ts";
import { readInteraction } from "./item-check.ts";

/** What acceptance needs to know of the request. */
export interface AcceptOptions {
  receivedAt: Date;
  /**
   * False when the body's JSON text has no escape that could make a NUL or a lone surrogate
   * (collector-body.ts): then no string of the batch can be unstorable, and the batch is not walked for one.
   */
  mayHoldUnstorable?: boolean;
}

export interface Rejection {
  index: number;
  code: "validation.failed";
  message: string;
}

/**
 * Checks each item of a batch on its own: valid ones come back as the contract's output (unknown keys dropped,
 * the timestamp in toISOString's form), invalid ones as rejections by index (API.md: valid items are kept even
 * when others are rejected). A timestamp in the future becomes the time received. Repeated ids pass: the
 * processor stores an id once. The stamps (source, address, user agent) are the caller's, once per batch.
 */
export function acceptBatch(
  items: readonly unknown[],
  options: AcceptOptions,
): { accepted: Interaction[]; rejected: Rejection[] } {
  const accepted: Interaction[] = [];
  const rejected: Rejection[] = [];
  const receivedAt = options.receivedAt.toISOString();
  // One walk over the whole batch; a detail's path starts with its item's index.
  const unstorable = new Map<number, string>();
  for (const detail of options.mayHoldUnstorable === false ? [] : findUnstorableStrings(items)) {
    const [index = "", ...rest] = detail.path.split(".");
    if (!unstorable.has(Number(index)))
      unstorable.set(Number(index), `${rest.join(".")} ${detail.message}`.trim());
  }
  items.forEach((item, index) => {
    const problem = unstorable.get(index);
    if (problem !== undefined) {
      rejected.push({ index, code: "validation.failed", message: problem });
      return;
    }
    // The hand-written check accepts the common item; zod decides (and words the rejection) otherwise.
    let interaction: Interaction | undefined = readInteraction(item);
    if (interaction === undefined) {
      const parsed = interactionSchema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const path = issue?.path.map(String).join(".") ?? "";
        rejected.push({
          index,
          code: "validation.failed",
          message: `${path} ${issue?.message ?? "is invalid"}`.trim(),
        });
        return;
      }
      interaction = parsed.data;
    }
    // The object is a fresh one (the hand-written check's or zod's output): only its time is rewritten.
    interaction.timestamp =
      Date.parse(interaction.timestamp) > options.receivedAt.getTime()
        ? receivedAt
        : canonicalTime(interaction.timestamp);
    accepted.push(interaction);
  });
  return { accepted, rejected };
}

// Already in toISOString's form (what the tracker and most SDKs send): kept as it is, without a Date.
const CANONICAL_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A valid ISO date-time as toISOString writes it (UTC, milliseconds). */
function canonicalTime(timestamp: string): string {
  return CANONICAL_TIME.test(timestamp) ? timestamp : new Date(timestamp).toISOString();
}

/** What a collector request appends (undefined when it accepted nothing), and what it answers. */
export interface RequestBatch {
  appended: AppendedBatch | undefined;
  accepted: number;
  rejected: Rejection[];
}

/**
 * A request's items checked (acceptBatch) and written with the request's stamps as the lines it appends: all of
 * a request's work but the append itself, so the collector's warm-up (warm-up.ts) runs exactly this.
 */
export function batchOfRequest(
  items: readonly unknown[],
  stamp: InteractionStamp,
  options: AcceptOptions,
): RequestBatch {
  const { accepted, rejected } = acceptBatch(items, options);
  return {
    appended: accepted.length > 0 ? appendedBatchOf(stamp, accepted) : undefined,
    accepted: accepted.length,
    rejected,
  };
}
