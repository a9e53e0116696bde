import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../test/app.ts";
import { createPublished } from "../../test/events.support.ts";
import { createUser } from "../../test/factories.ts";
import type { Bus } from "../platform/bus/bus.ts";
import { startWorkerRole } from "./worker.ts";

// ADR 0002: on the in-process bus a row relayed before its consumer bound is marked sent with nobody having
// applied it, so the worker binds every consumer before its relay publishes anything.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { OUTBOX_POLL_MS: "100" } });
});
afterAll(async () => {
  await t.close();
});

it("binds its consumers before the relay publishes a waiting outbox row", async () => {
  // A published event leaves an outbox row for the relay to find the moment it starts.
  await createPublished(t, await createUser(t));
  const calls: string[] = [];
  const inner = t.deps.bus;
  const bus: Bus = {
    ensureStream: (name, subjects) => inner.ensureStream(name, subjects),
    publish: (msg) => {
      calls.push("publish");
      return inner.publish(msg);
    },
    subscribe: (pattern, handler) => inner.subscribe(pattern, handler),
    // Binding is slow here, as creating a JetStream consumer can be: a relay already running would publish
    // the waiting row meanwhile.
    consume: async (opts, handler) => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const subscription = await inner.consume(opts, handler);
      calls.push("bound");
      return subscription;
    },
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  const worker = await startWorkerRole({ ...t.deps, bus });
  try {
    await expect.poll(() => calls.includes("publish"), { timeout: 10_000 }).toBe(true);
    expect(calls[0]).toBe("bound");
  } finally {
    await worker.stop();
  }
});
