import type { AddressInfo } from "node:net";
import { errorBodySchema } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../test/app.ts";
import { exchange, openSocket, waitForClose } from "../../test/raw-http.ts";

/*
 * Answers that Fastify and node would write with their own bodies: the router's (an overlong path parameter, a
 * broken percent-encoding), node's parser's (huge headers, a broken request line) and the closing server's.
 * Each must carry the contract's body with a stable code.
 */

function expectContractError(body: string, code: string): void {
  const parsed = errorBodySchema.safeParse(JSON.parse(body));
  expect(parsed.success, body).toBe(true);
  expect(parsed.data?.error.code).toBe(code);
}

let t: TestApp;
let port: number;

beforeAll(async () => {
  t = await createTestApp();
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  port = (t.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await t.close();
});

describe("off-contract answers", () => {
  it("answers a path parameter over 100 characters with 414 request.uri_too_long", async () => {
    const response = await t.app.inject({ url: `/api/events/${"a".repeat(101)}` });
    expect(response.statusCode).toBe(414);
    expectContractError(response.body, "request.uri_too_long");
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
  });

  it("answers a broken percent-encoding with 400 request.malformed", async () => {
    const response = await t.app.inject({ url: "/api/events/%E0%A4%A" });
    expect(response.statusCode).toBe(400);
    expectContractError(response.body, "request.malformed");
  });

  it("answers headers over node's limit with 431 request.headers_too_large and closes", async () => {
    const socket = await openSocket(port);
    const response = await exchange(
      socket,
      `GET /api/events HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"x".repeat(20_000)}\r\n\r\n`,
    );
    expect(response.status).toBe(431);
    expect(response.headers["connection"]).toBe("close");
    expectContractError(response.body, "request.headers_too_large");
    expect(await waitForClose(socket)).toBe("closed");
  });

  it("answers a broken request line with 400 request.malformed", async () => {
    const socket = await openSocket(port);
    const response = await exchange(socket, "NOT HTTP AT ALL\r\n\r\n");
    expect(response.status).toBe(400);
    expectContractError(response.body, "request.malformed");
  });
});

describe("closing", () => {
  it("answers a request on a kept-alive socket with 503 service.unavailable, Connection: close and Retry-After", async () => {
    const closing = await createTestApp({ env: { SHUTDOWN_GRACE_MS: "5000" } });
    try {
      await closing.app.listen({ port: 0, host: "127.0.0.1" });
      const socket = await openSocket((closing.app.server.address() as AddressInfo).port);
      const first = await exchange(socket, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
      expect(first.status).toBe(200);

      const closed = closing.app.close();
      const second = await exchange(socket, "GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n");
      expect(second.status).toBe(503);
      expect(second.headers["connection"]).toBe("close");
      expect(second.headers["retry-after"]).toBe("1");
      expectContractError(second.body, "service.unavailable");
      expect(await waitForClose(socket)).toBe("closed");
      // With its last socket gone the close does not wait out the 5 s grace.
      const startedAt = performance.now();
      await closed;
      expect(performance.now() - startedAt).toBeLessThan(1000);
    } finally {
      await closing.close();
    }
  });
});
