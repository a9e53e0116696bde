import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../test/app.ts";

// ROLES picks what a process serves: a worker-only process has the operational routes and nothing else.
let worker: TestApp;
beforeAll(async () => {
  worker = await createTestApp({ env: { ROLES: "worker" } });
});
afterAll(() => worker.close());

it("serves /healthz, /readyz and /metrics in every role", async () => {
  for (const url of ["/healthz", "/readyz", "/metrics"]) {
    expect((await worker.app.inject({ url })).statusCode, url).toBe(200);
  }
});

it("serves no api routes, OpenAPI or web app without the api role", async () => {
  const register = await worker.app.inject({
    method: "POST",
    url: "/api/auth/register",
    payload: { email: "a@example.test", password: "long enough password", name: "A" },
  });
  expect(register.statusCode).toBe(404);
  expect(register.json()).toMatchObject({ error: { code: "route.not_found" } });
  expect((await worker.app.inject({ url: "/api/openapi.json" })).statusCode).toBe(404);
  const page = await worker.app.inject({ url: "/" });
  expect(page.statusCode).toBe(404);
  expect(page.json()).toMatchObject({ error: { code: "route.not_found" } });
});
