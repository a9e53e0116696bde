import { describe, expect, it } from "vitest";
import { bodyTemplate, item, ITEMS_PER_BATCH } from "./ingest-body.ts";

describe("the ingest senders' bodies", () => {
  it("are what JSON.stringify writes for the same batch", () => {
    for (const sender of [0, 7, 31]) {
      const timestamp = new Date(Date.UTC(2026, 11, 6, 12, 0, 0, 5 + sender)).toISOString();
      const batch = Array.from({ length: ITEMS_PER_BATCH }, (_unused, i) =>
        item(`a-${sender}-12-${i}`, sender, timestamp),
      );
      expect(bodyTemplate(sender)(`a-${sender}-12-`, timestamp)).toBe(JSON.stringify({ batch }));
    }
  });
});
