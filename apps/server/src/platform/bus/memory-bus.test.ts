import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createMemoryBus } from "./memory-bus.ts";

// What makes the embedded mode crash-safe: the outbox marks a row sent only after publish resolves.
describe("memory bus publish", () => {
  it("resolves only after every bound durable consumer has handled the message", async () => {
    const bus = createMemoryBus();
    await bus.ensureStream("jobs", ["jobs.>"]);
    const handled: string[] = [];
    await bus.consume({ stream: "jobs", name: "a", filter: "jobs.>" }, async (m) => {
      await sleep(30);
      handled.push(`a:${m.id}`);
    });
    await bus.consume({ stream: "jobs", name: "b", filter: "jobs.>" }, (m) => {
      handled.push(`b:${m.id}`);
    });
    await bus.publish({ subject: "jobs.mail", id: "1", data: {} });
    expect(handled.sort()).toEqual(["a:1", "b:1"]);
    await bus.close();
  });

  it("is not failed by a throwing live subscriber", async () => {
    const bus = createMemoryBus();
    bus.subscribe("x.>", () => {
      throw new Error("sync");
    });
    bus.subscribe("x.>", () => Promise.reject(new Error("async")));
    await expect(bus.publish({ subject: "x.y", id: "1", data: null })).resolves.toBeUndefined();
    await bus.close();
  });

  it("rejects a publish still waiting for its consumer when the bus closes", async () => {
    const bus = createMemoryBus();
    await bus.ensureStream("jobs", ["jobs.>"]);
    let attempts = 0;
    await bus.consume({ stream: "jobs", name: "a", filter: "jobs.>" }, () => {
      attempts++;
      throw new Error("keeps failing");
    });
    const pending = bus.publish({ subject: "jobs.mail", id: "1", data: {} });
    await expect.poll(() => attempts).toBeGreaterThanOrEqual(2);
    await bus.close();
    await expect(pending).rejects.toThrow("bus closed before delivery");
  });
});
