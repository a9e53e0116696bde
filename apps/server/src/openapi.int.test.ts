import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../test/app.ts";

// The committed OpenAPI document is a contract: this test fails when the routes drift from it.
// After an intended change: `npm run openapi:update`, then review and commit the diff.
const SNAPSHOT = resolve(import.meta.dirname, "../openapi.json");

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

it("serves an OpenAPI 3.1 document equal to the committed snapshot", async () => {
  const response = await t.app.inject({ url: "/api/openapi.json" });
  expect(response.statusCode).toBe(200);
  const document = response.json<{ openapi: string; paths: Record<string, unknown> }>();
  expect(document.openapi).toBe("3.1.0");
  const current = `${JSON.stringify(document, null, 2)}\n`;
  if (process.env.UPDATE_OPENAPI === "1") await writeFile(SNAPSHOT, current);
  expect(current).toBe(await readFile(SNAPSHOT, "utf8"));
});

it("serves the reference page", async () => {
  const response = await t.app.inject({ url: "/api/docs" });
  expect(response.statusCode).toBe(200);
  expect(response.headers["content-type"]).toMatch(/text\/html/);
});
