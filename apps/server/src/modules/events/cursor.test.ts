import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "./cursor.ts";

const id = "0190a6b4-1234-7000-8000-00000000abcd";
const startsAt = "2026-05-01T10:00:00.123456Z";

describe("feed cursors", () => {
  it("round-trips time and rank keys through an opaque base64url string", () => {
    const time = encodeCursor({ startsAt, id });
    expect(time).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(time, "time")).toEqual({ startsAt, id });
    const rank = encodeCursor({ rank: "0.0607927", startsAt, id });
    expect(decodeCursor(rank, "rank")).toEqual({ rank: "0.0607927", startsAt, id });
    expect(decodeCursor(encodeCursor({ rank: "1e-20", startsAt, id }), "rank").rank).toBe("1e-20");
  });

  it("refuses garbage, tampered values and a cursor of the other kind with validation.failed on cursor", () => {
    const bad = [
      "",
      "%%%",
      Buffer.from("{}").toString("base64url"),
      Buffer.from(JSON.stringify(["t", "2026-05-01", id])).toString("base64url"),
      Buffer.from(JSON.stringify(["t", startsAt, "not-a-uuid"])).toString("base64url"),
      Buffer.from(JSON.stringify(["r", "0.5); DROP TABLE events", startsAt, id])).toString("base64url"),
      encodeCursor({ rank: "0.1", startsAt, id }),
      // Date.parse takes these; PostgreSQL does not.
      encodeCursor({ startsAt: "2026-02-30T10:00:00.000000Z", id }),
      encodeCursor({ startsAt: "0000-01-01T00:00:00.000000Z", id }),
      encodeCursor({ startsAt: "2026-05-01T24:00:00.000000Z", id }),
    ];
    for (const cursor of bad) {
      expect(() => decodeCursor(cursor, "time"), cursor).toThrow(
        expect.objectContaining({
          code: "validation.failed",
          details: [expect.objectContaining({ path: "cursor" })],
        }),
      );
    }
    expect(() => decodeCursor(encodeCursor({ startsAt, id }), "rank")).toThrow(
      expect.objectContaining({ code: "validation.failed" }),
    );
    for (const rank of ["1e99", "1e-99", "3.5e38"]) {
      expect(() => decodeCursor(encodeCursor({ rank, startsAt, id }), "rank"), rank).toThrow(
        expect.objectContaining({ code: "validation.failed" }),
      );
    }
  });
});
