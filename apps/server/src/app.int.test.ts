import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTestApp, type TestApp } from "../test/app.ts";
import { AppError } from "./platform/errors.ts";

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({
    configure: (app) => {
      const body = z.object({ title: z.string().min(1), venue: z.object({ name: z.string().max(5) }) });
      app.post("/api/test/echo", { schema: { body } }, (request) => request.body);
      app.get("/api/test/conflict", () => {
        throw new AppError("auth.email_taken", "taken");
      });
      app.get("/api/test/crash", () => {
        throw new Error("database exploded with secret details");
      });
    },
  });
});
afterAll(() => t.close());

describe("platform HTTP behaviour", () => {
  it("answers /healthz and /readyz", async () => {
    expect((await t.app.inject({ url: "/healthz" })).statusCode).toBe(200);
    const ready = await t.app.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready", problems: [] });
  });

  it("reports validation failures per field with dot-joined paths", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/test/echo",
      payload: { title: "", venue: { name: "too long" } },
    });
    expect(response.statusCode).toBe(400);
    const { error } = response.json<{ error: { code: string; details: { path: string }[] } }>();
    expect(error.code).toBe("validation.failed");
    expect(error.details.map((detail) => detail.path).sort()).toEqual(["title", "venue.name"]);
  });

  it("answers malformed JSON with request.malformed", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/test/echo",
      headers: { "content-type": "application/json" },
      payload: '{"title": ',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: "request.malformed" } });
  });

  it("refuses bodies over 1 MiB with 413 request.too_large", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/test/echo",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ title: "x".repeat(1024 * 1024), venue: { name: "a" } }),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ error: { code: "request.too_large" } });
  });

  it("maps AppError to its status and hides internal errors behind 500 internal", async () => {
    const conflict = await t.app.inject({ url: "/api/test/conflict" });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toEqual({ error: { code: "auth.email_taken", message: "taken" } });
    const crash = await t.app.inject({ url: "/api/test/crash" });
    expect(crash.statusCode).toBe(500);
    expect(crash.json()).toEqual({
      error: { code: "internal", message: "Something went wrong on our side." },
    });
  });

  it("answers unknown /api and /v1 routes with route.not_found and serves the web app elsewhere", async () => {
    for (const url of ["/api/nope", "/v1/nope", "/api"]) {
      const response = await t.app.inject({ url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json(), url).toMatchObject({ error: { code: "route.not_found" } });
    }
    const page = await t.app.inject({ url: "/events/123" });
    expect([200, 503]).toContain(page.statusCode);
    expect(page.headers["content-type"]).toMatch(page.statusCode === 200 ? /text\/html/ : /text\/plain/);
  });

  it("puts helmet's document headers on pages and the reference page, not on JSON routes", async () => {
    const page = await t.app.inject({ url: "/events/some-page" });
    expect(page.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    const docs = await t.app.inject({ url: "/api/docs" });
    expect(docs.headers["x-frame-options"]).toBe("SAMEORIGIN");
    const json = await t.app.inject({ url: "/api/events" });
    expect(json.statusCode).toBe(200);
    expect(json.headers["x-frame-options"]).toBeUndefined();
  });

  it("exposes Prometheus metrics with the HTTP latency histogram by route", async () => {
    await t.app.inject({ url: "/healthz" });
    const response = await t.app.inject({ url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} \d+/,
    );
  });
});
