import { interactionSchema, type StampedInteraction } from "@turnout/contracts";
import { findUnstorableStrings } from "../../platform/validation.ts";

/** What the request itself says about where the batch came from (client-stamps.ts). */
export interface Stamp {
  sourceId: string;
  receivedAt: Date;
  ip: string | null;
  device: string;
  browser: string;
  os: string;
}

export interface Rejection {
  index: number;
  code: "validation.failed";
  message: string;
}

/**
 * Checks each item of a batch on its own: valid ones come back stamped, invalid ones as rejections by index
 * (API.md: valid items are kept even when others are rejected). A timestamp in the future becomes the time
 * received. Repeated ids pass: the processor stores an id once.
 */
export function acceptBatch(
  items: readonly unknown[],
  stamp: Stamp,
): { accepted: StampedInteraction[]; rejected: Rejection[] } {
  const accepted: StampedInteraction[] = [];
  const rejected: Rejection[] = [];
  const receivedAt = stamp.receivedAt.toISOString();
  // One walk over the whole batch; a detail's path starts with its item's index.
  const unstorable = new Map<number, string>();
  for (const detail of findUnstorableStrings(items)) {
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
    const interaction = parsed.data;
    const isFuture = Date.parse(interaction.timestamp) > stamp.receivedAt.getTime();
    // Field by field: spreading zod's output object costs about 15 µs an item, this well under one.
    accepted.push({
      id: interaction.id,
      type: interaction.type,
      name: interaction.name,
      timestamp: isFuture ? receivedAt : new Date(interaction.timestamp).toISOString(),
      anonymousId: interaction.anonymousId,
      userId: interaction.userId,
      sessionId: interaction.sessionId,
      properties: interaction.properties,
      context: interaction.context,
      sourceId: stamp.sourceId,
      receivedAt,
      ip: stamp.ip,
      device: stamp.device,
      browser: stamp.browser,
      os: stamp.os,
    });
  });
  return { accepted, rejected };
}
