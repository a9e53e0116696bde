import { describe, expect, it } from "vitest";
import { canonicalJson, hashRequest, isStorableResponse, readKey } from "./request-hash.ts";

describe("canonicalJson", () => {
  it("sorts keys at every depth and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson(undefined)).toBe("null");
  });
});

describe("hashRequest", () => {
  it("is equal for the same method, URL and body in any key order", () => {
    expect(hashRequest("post", "/api/x", { a: 1, b: 2 })).toBe(hashRequest("POST", "/api/x", { b: 2, a: 1 }));
  });

  it("differs when the method, the URL or the body differs", () => {
    const base = hashRequest("POST", "/api/x", { a: 1 });
    expect(hashRequest("PATCH", "/api/x", { a: 1 })).not.toBe(base);
    expect(hashRequest("POST", "/api/y", { a: 1 })).not.toBe(base);
    expect(hashRequest("POST", "/api/x?q=1", { a: 1 })).not.toBe(base);
    expect(hashRequest("POST", "/api/x", { a: 2 })).not.toBe(base);
    expect(hashRequest("POST", "/api/x", [{ a: 1 }])).not.toBe(base);
  });
});

describe("readKey", () => {
  it("accepts 1..200 characters and ignores an absent header", () => {
    expect(readKey(undefined)).toEqual({});
    expect(readKey("k")).toEqual({ key: "k" });
    expect(readKey("k".repeat(200))).toEqual({ key: "k".repeat(200) });
    expect(readKey("").problem).toBeDefined();
    expect(readKey("k".repeat(201)).problem).toBeDefined();
    expect(readKey(["a", "b"]).problem).toBeDefined();
  });
});

describe("isStorableResponse", () => {
  it("keeps 2xx and 4xx but not 409 in_progress, 429 or 5xx", () => {
    expect(isStorableResponse(200, {})).toBe(true);
    expect(isStorableResponse(201, {})).toBe(true);
    expect(isStorableResponse(204, undefined)).toBe(true);
    expect(isStorableResponse(404, { error: { code: "event.not_found" } })).toBe(true);
    expect(isStorableResponse(409, { error: { code: "event.full" } })).toBe(true);
    expect(isStorableResponse(409, { error: { code: "idempotency.in_progress" } })).toBe(false);
    expect(isStorableResponse(429, {})).toBe(false);
    expect(isStorableResponse(500, {})).toBe(false);
    expect(isStorableResponse(503, {})).toBe(false);
    expect(isStorableResponse(302, undefined)).toBe(false);
  });
});
