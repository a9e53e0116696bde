import { randomUUID } from "node:crypto";
import { authResponseSchema, errorBodySchema } from "@turnout/contracts";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { requireUser, SIGNED_IN } from "../../modules/auth/index.ts";
import { createManualClock } from "../clock.ts";
import { AppError } from "../errors.ts";

const clock = createManualClock(new Date("2026-05-01T08:00:00Z"));
const CONSUMER = "idempotency-test";
let t: TestApp;
let user: CreatedUser;
const failuresLeft = new Map<string, number>();

// Test-only routes: each run of the handler leaves one inbox row, so side effects can be counted.
function addTestRoutes(app: FastifyInstance): void {
  app.post(
    "/test/effects",
    { config: { idempotent: true }, schema: { security: SIGNED_IN } },
    async (request, reply) => {
      requireUser(request);
      const { delayMs = 0, tag = "" } = (request.body ?? {}) as { delayMs?: number; tag?: string };
      if (delayMs > 0) await sql`SELECT pg_sleep(${delayMs / 1000})`.execute(t.deps.db);
      const id = randomUUID();
      await t.deps.db
        .insertInto("inbox")
        .values({ consumer: CONSUMER, message_id: `${tag}:${id}` })
        .execute();
      return reply.code(201).send({ id, tag });
    },
  );
  app.post("/test/anonymous", { config: { idempotent: true } }, async (request) => {
    const id = randomUUID();
    await t.deps.db
      .insertInto("inbox")
      .values({ consumer: CONSUMER, message_id: `anon:${id}` })
      .execute();
    return { id, isAnonymous: request.user === null };
  });
  app.post(
    "/test/fails",
    { config: { idempotent: true }, schema: { security: SIGNED_IN } },
    async (request) => {
      requireUser(request);
      const { tag, code } = request.body as {
        tag: string;
        code: "internal" | "rate_limited" | "user.not_found";
      };
      await t.deps.db
        .insertInto("inbox")
        .values({ consumer: CONSUMER, message_id: `${tag}:${randomUUID()}` })
        .execute();
      const left = failuresLeft.get(tag) ?? 1;
      failuresLeft.set(tag, left - 1);
      if (left > 0) throw code === "internal" ? new Error("boom") : new AppError(code, "planned failure");
      return { ok: true };
    },
  );
  app.delete(
    "/test/nothing",
    { config: { idempotent: true }, schema: { security: SIGNED_IN } },
    async (request, reply) => {
      requireUser(request);
      await t.deps.db
        .insertInto("inbox")
        .values({ consumer: CONSUMER, message_id: `delete:${randomUUID()}` })
        .execute();
      return reply.code(204).send();
    },
  );
}

beforeAll(async () => {
  t = await createTestApp({ deps: { clock }, configure: addTestRoutes });
  user = await createUser(t);
});
afterAll(() => t.close());

function send(
  url: string,
  payload: unknown,
  key: string | undefined,
  as: CreatedUser | null = user,
  method: "POST" | "PATCH" | "DELETE" = "POST",
) {
  return t.app.inject({
    method,
    url,
    payload: payload as object,
    headers: { ...(as === null ? {} : bearer(as)), ...(key === undefined ? {} : { "idempotency-key": key }) },
  });
}
async function countEffects(tag: string): Promise<number> {
  const rows = await t.deps.db
    .selectFrom("inbox")
    .select("message_id")
    .where("consumer", "=", CONSUMER)
    .where("message_id", "like", `${tag}:%`)
    .execute();
  return rows.length;
}
const errorCode = (response: LightMyRequestResponse) => errorBodySchema.parse(response.json()).error.code;

describe("Idempotency-Key", () => {
  it("replays the stored status and body for a repeat, with Idempotent-Replayed, and runs once", async () => {
    const key = randomUUID();
    const first = await send("/test/effects", { tag: "replay", b: 1, a: { y: 2, x: 1 } }, key);
    expect(first.statusCode).toBe(201);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const again = await send("/test/effects", { a: { x: 1, y: 2 }, b: 1, tag: "replay" }, key);
    expect(again.statusCode).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.headers["content-type"]).toMatch(/application\/json/);
    expect(again.json()).toEqual(first.json());
    expect(await countEffects("replay")).toBe(1);
  });

  it("answers 422 idempotency.mismatch for the same key with another body or path", async () => {
    const key = randomUUID();
    expect((await send("/test/effects", { tag: "mismatch" }, key)).statusCode).toBe(201);
    const otherBody = await send("/test/effects", { tag: "mismatch", extra: true }, key);
    expect(otherBody.statusCode).toBe(422);
    expect(errorCode(otherBody)).toBe("idempotency.mismatch");
    const otherPath = await send("/test/effects?x=1", { tag: "mismatch" }, key);
    expect(otherPath.statusCode).toBe(422);
    expect(await countEffects("mismatch")).toBe(1);
  });

  it("answers 409 idempotency.in_progress while the first request runs, then replays", async () => {
    const key = randomUUID();
    const slow = send("/test/effects", { tag: "progress", delayMs: 400 }, key);
    await waitForKey(key);
    const during = await send("/test/effects", { tag: "progress", delayMs: 400 }, key);
    expect(during.statusCode).toBe(409);
    expect(errorCode(during)).toBe("idempotency.in_progress");
    const first = await slow;
    expect(first.statusCode).toBe(201);
    const after = await send("/test/effects", { tag: "progress", delayMs: 400 }, key);
    expect(after.headers["idempotent-replayed"]).toBe("true");
    expect(after.json()).toEqual(first.json());
    expect(await countEffects("progress")).toBe(1);
  });

  it("runs exactly once for 20 concurrent identical requests; the rest are 409 or the same replayed body", async () => {
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => send("/test/effects", { tag: "storm", delayMs: 100 }, key)),
    );
    const fresh = responses.filter(
      (response) => response.statusCode === 201 && response.headers["idempotent-replayed"] === undefined,
    );
    expect(fresh).toHaveLength(1);
    for (const response of responses) {
      if (response.statusCode === 409) expect(errorCode(response)).toBe("idempotency.in_progress");
      else {
        expect(response.statusCode).toBe(201);
        expect(response.json()).toEqual(fresh[0]?.json());
      }
    }
    expect(await countEffects("storm")).toBe(1);
  });

  it("scopes keys per user", async () => {
    const other = await createUser(t);
    const key = randomUUID();
    const mine = await send("/test/effects", { tag: "scope" }, key);
    const theirs = await send("/test/effects", { tag: "scope" }, key, other);
    expect(theirs.headers["idempotent-replayed"]).toBeUndefined();
    expect(theirs.json()).not.toEqual(mine.json());
    expect(await countEffects("scope")).toBe(2);
  });

  it("is ignored for anonymous requests", async () => {
    const key = randomUUID();
    const first = await send("/test/anonymous", {}, key, null);
    const second = await send("/test/anonymous", {}, key, null);
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(second.headers["idempotent-replayed"]).toBeUndefined();
    expect(second.json()).not.toEqual(first.json());
  });

  it("rejects a key of 0 or more than 200 characters with 400 validation.failed; 200 is fine", async () => {
    for (const key of ["", "k".repeat(201)]) {
      const response = await send("/test/effects", { tag: "length" }, key);
      expect(response.statusCode).toBe(400);
      expect(errorBodySchema.parse(response.json()).error).toMatchObject({
        code: "validation.failed",
        details: [{ path: "idempotency-key" }],
      });
    }
    expect((await send("/test/effects", { tag: "length" }, "k".repeat(200))).statusCode).toBe(201);
    expect(await countEffects("length")).toBe(1);
  });

  it("stores a 4xx answer and replays it", async () => {
    const key = randomUUID();
    const first = await send("/test/fails", { tag: "four", code: "user.not_found" }, key);
    expect(first.statusCode).toBe(404);
    const again = await send("/test/fails", { tag: "four", code: "user.not_found" }, key);
    expect(again.statusCode).toBe(404);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toEqual(first.json());
    expect(await countEffects("four")).toBe(1);
  });

  it.each([
    ["internal", 500],
    ["rate_limited", 429],
  ] as const)("does not store a %s (%i) answer: a retry runs again", async (code, status) => {
    const key = randomUUID();
    const tag = `retry-${code}`;
    const first = await send("/test/fails", { tag, code }, key);
    expect(first.statusCode).toBe(status);
    const retry = await send("/test/fails", { tag, code }, key);
    expect(retry.statusCode).toBe(200);
    expect(retry.headers["idempotent-replayed"]).toBeUndefined();
    expect(await countEffects(tag)).toBe(2);
  });

  it("replays an empty 204 answer", async () => {
    const key = randomUUID();
    const first = await send("/test/nothing", undefined, key, user, "DELETE");
    expect(first.statusCode).toBe(204);
    const again = await send("/test/nothing", undefined, key, user, "DELETE");
    expect(again.statusCode).toBe(204);
    expect(again.body).toBe("");
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(await countEffects("delete")).toBe(1);
  });

  it("lets a retry take over a key left running by a process that died", async () => {
    const key = randomUUID();
    await t.deps.db
      .insertInto("idempotency_keys")
      .values({
        user_id: user.user.id,
        key,
        request_hash: "whatever",
        status_code: null,
        created_at: new Date(clock.now().getTime() - 6 * 60 * 1000),
        expires_at: new Date(clock.now().getTime() + 60_000),
      })
      .execute();
    const response = await send("/test/effects", { tag: "stale" }, key);
    expect(response.statusCode).toBe(201);
  });

  it("leaves no row for requests without a key", async () => {
    const before = await t.deps.db
      .selectFrom("idempotency_keys")
      .select("key")
      .where("user_id", "=", user.user.id)
      .execute();
    expect((await send("/test/effects", { tag: "nokey" }, undefined)).statusCode).toBe(201);
    const after = await t.deps.db
      .selectFrom("idempotency_keys")
      .select("key")
      .where("user_id", "=", user.user.id)
      .execute();
    expect(after).toHaveLength(before.length);
  });

  it("covers PATCH /api/me: replay, then 422 for another body", async () => {
    const key = randomUUID();
    const first = await send("/api/me", { name: "Replayed Name" }, key, user, "PATCH");
    expect(first.statusCode).toBe(200);
    await t.deps.db
      .updateTable("users")
      .set({ name: "Changed Meanwhile" })
      .where("id", "=", user.user.id)
      .execute();
    const again = await send("/api/me", { name: "Replayed Name" }, key, user, "PATCH");
    expect(again.statusCode).toBe(200);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toEqual(first.json());
    const row = await t.deps.db
      .selectFrom("users")
      .select("name")
      .where("id", "=", user.user.id)
      .executeTakeFirstOrThrow();
    expect(row.name).toBe("Changed Meanwhile");
    const other = await send("/api/me", { name: "Another" }, key, user, "PATCH");
    expect(other.statusCode).toBe(422);
  });

  // Moves the clock a day on: keep it last.
  it("keeps a key 24 hours, after which it may be used afresh", async () => {
    const key = randomUUID();
    expect((await send("/test/effects", { tag: "retention" }, key)).statusCode).toBe(201);
    const row = await t.deps.db
      .selectFrom("idempotency_keys")
      .select(["created_at", "expires_at", "status_code"])
      .where("key", "=", key)
      .executeTakeFirstOrThrow();
    expect(row.status_code).toBe(201);
    expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(24 * 60 * 60 * 1000);
    // Access tokens last 15 minutes: sign in again (same user, so the same key scope) after each jump.
    clock.advance(24 * 60 * 60 * 1000 - 1000);
    user = await refreshTokens(user);
    expect((await send("/test/effects", { tag: "retention", changed: true }, key)).statusCode).toBe(422);
    clock.advance(2000);
    user = await refreshTokens(user);
    const reused = await send("/test/effects", { tag: "retention", changed: true }, key);
    expect(reused.statusCode).toBe(201);
    expect(reused.headers["idempotent-replayed"]).toBeUndefined();
    expect(await countEffects("retention")).toBe(2);
  });
});

async function refreshTokens(created: CreatedUser): Promise<CreatedUser> {
  const response = await t.app.inject({
    method: "POST",
    url: "/api/auth/refresh",
    payload: { refreshToken: created.refreshToken },
  });
  expect(response.statusCode).toBe(200);
  return { ...created, ...authResponseSchema.parse(response.json()) };
}

async function waitForKey(key: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const row = await t.deps.db
      .selectFrom("idempotency_keys")
      .select("key")
      .where("key", "=", key)
      .executeTakeFirst();
    if (row !== undefined) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("the first request never took its key");
}
