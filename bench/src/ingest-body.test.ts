import { describe, expect, it } from "vitest";
import { bodyTemplate, item, ITEMS_PER_BATCH, requestTemplate } from "./ingest-body.ts";

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

  it("go in requests of the bytes node's HTTP client wrote, for every width of the batch number", () => {
    const host = "127.0.0.1:40123";
    for (const sender of [0, 31]) {
      const requestOf = requestTemplate(host, "a", sender);
      for (const b of [0, 9, 10, 99, 100, 5_432, 7]) {
        const timestamp = new Date(Date.UTC(2026, 11, 6, 12, 0, 0, b % 1000)).toISOString();
        const body = bodyTemplate(sender)(`a-${sender}-${b}-`, timestamp);
        const expected =
          `POST /api/collect HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
          `user-agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36\r\n` +
          `Host: ${host}\r\nConnection: keep-alive\r\n\r\n${body}`;
        expect(requestOf(b, timestamp).toString("latin1")).toBe(expected);
      }
    }
  });
});
