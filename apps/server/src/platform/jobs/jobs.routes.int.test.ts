import { setTimeout as sleep } from "node:timers/promises";
import type { DeadJob } from "@turnout/contracts";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { PermanentJobError } from "./job-queue.ts";

let t: TestApp;
let admin: CreatedUser;
let user: CreatedUser;
let runs = 0;

beforeAll(async () => {
  t = await createTestApp();
  admin = await createUser(t, { role: "admin" });
  user = await createUser(t);
  t.deps.jobs.work("maintenance.cleanup", () => {
    runs++;
    throw new PermanentJobError("the disk is on fire");
  });
});
afterAll(() => t.close());

async function listDead(): Promise<DeadJob[]> {
  const response = await t.app.inject({ url: "/api/admin/jobs/dead?limit=10", headers: bearer(admin) });
  expect(response.statusCode).toBe(200);
  return response.json<{ items: DeadJob[] }>().items;
}

async function waitForDead(id: string, attempts: number): Promise<DeadJob> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const job = (await listDead()).find((item) => item.id === id);
    if (job !== undefined && job.attempts >= attempts) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} not dead after ${attempts} attempts`);
    await sleep(100);
  }
}

it("lists dead jobs to admins only and gives one another attempt on retry", async () => {
  const id = await t.deps.jobs.send("maintenance.cleanup", {});
  if (id === null) throw new Error("the job was not created");
  const dead = await waitForDead(id, 1);
  expect(dead.name).toBe("maintenance.cleanup");
  expect(dead.error ?? "").toContain("the disk is on fire");
  expect(runs).toBe(1);

  expect((await t.app.inject({ url: "/api/admin/jobs/dead" })).statusCode).toBe(401);
  const forbidden = await t.app.inject({ url: "/api/admin/jobs/dead", headers: bearer(user) });
  expect(forbidden.statusCode).toBe(403);
  expect(forbidden.json()).toMatchObject({ error: { code: "auth.forbidden" } });
  const userRetry = await t.app.inject({
    method: "POST",
    url: `/api/admin/jobs/${id}/retry`,
    headers: bearer(user),
  });
  expect(userRetry.statusCode).toBe(403);

  const retry = await t.app.inject({
    method: "POST",
    url: `/api/admin/jobs/${id}/retry`,
    headers: bearer(admin),
  });
  expect(retry.statusCode).toBe(204);
  await waitForDead(id, 2);
  expect(runs).toBe(2);
});

it("answers 404 job.not_found for an id that is not a dead job, and 400 for a bad limit", async () => {
  const missing = await t.app.inject({
    method: "POST",
    url: "/api/admin/jobs/0190a0b0-0000-7000-8000-000000000000/retry",
    headers: bearer(admin),
  });
  expect(missing.statusCode).toBe(404);
  expect(missing.json()).toMatchObject({ error: { code: "job.not_found" } });
  const badLimit = await t.app.inject({ url: "/api/admin/jobs/dead?limit=1000", headers: bearer(admin) });
  expect(badLimit.statusCode).toBe(400);
  expect(badLimit.json()).toMatchObject({
    error: { code: "validation.failed", details: [{ path: "limit" }] },
  });
});
