import { interactionSchema, type Interaction, type InteractionStamp } from "@turnout/contracts";
import { findUnstorableStrings } from "../../platform/validation.ts";
import { toCopyLine, toStampText } from "./copy-line.ts";
import type { AppendedBatch } from "./interaction-stream.ts";
import { readInteractionLine, storedTime } from "./item-check.ts";

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
 * Checks each item of a batch on its own and writes each valid one as its COPY line with the batch's stamps
 * (`stampText`, toStampText): the contract's output (unknown keys dropped, the timestamp in toISOString's
 * form), invalid ones as rejections by index (API.md: valid items are kept even when others are rejected). A
 * timestamp in the future becomes the time received. Repeated ids pass: the processor stores an id once.
 */
export function acceptBatch(
  items: readonly unknown[],
  stampText: string,
  options: AcceptOptions,
): { lines: string[]; hours: number[]; rejected: Rejection[] } {
  const lines: string[] = [];
  const hours: number[] = [];
  const rejected: Rejection[] = [];
  // One walk over the whole batch; a detail's path starts with its item's index.
  const unstorable = new Map<number, string>();
  for (const detail of options.mayHoldUnstorable === false ? [] : findUnstorableStrings(items)) {
    const [index = "", ...rest] = detail.path.split(".");
    if (!unstorable.has(Number(index)))
      unstorable.set(Number(index), `${rest.join(".")} ${detail.message}`.trim());
  }
  for (let index = 0; index < items.length; index++) {
    const item = items[index];
    const problem = unstorable.get(index);
    if (problem !== undefined) {
      rejected.push({ index, code: "validation.failed", message: problem });
      continue;
    }
    // The hand-written check accepts the common item and writes its line; zod decides (and words the
    // rejection) otherwise.
    const read = readInteractionLine(item, stampText, options.receivedAt);
    if (read !== undefined) {
      lines.push(read.line);
      hours.push(read.hour);
      continue;
    }
    const parsed = interactionSchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue?.path.map(String).join(".") ?? "";
      rejected.push({
        index,
        code: "validation.failed",
        message: `${path} ${issue?.message ?? "is invalid"}`.trim(),
      });
      continue;
    }
    const interaction: Interaction = parsed.data;
    const stored = storedTime(interaction.timestamp, Date.parse(interaction.timestamp), options.receivedAt);
    interaction.timestamp = stored.time;
    lines.push(toCopyLine(interaction, stampText));
    hours.push(Math.floor(stored.ms / HOUR_MS));
  }
  return { lines, hours, rejected };
}

const HOUR_MS = 3_600_000;

/** What a collector request appends (undefined when it accepted nothing), and what it answers. */
export interface RequestBatch {
  appended: AppendedBatch | undefined;
  accepted: number;
  rejected: Rejection[];
}

/**
 * A request's items checked and written with the request's stamps as the lines it appends (acceptBatch): all
 * of a request's work but the append itself, so the collector's warm-up (warm-up.ts) runs exactly this.
 */
export function batchOfRequest(
  items: readonly unknown[],
  stamp: InteractionStamp,
  options: AcceptOptions,
): RequestBatch {
  const { lines, hours, rejected } = acceptBatch(items, toStampText(stamp), options);
  return {
    appended: lines.length > 0 ? { lines, hours } : undefined,
    accepted: lines.length,
    rejected,
  };
}
