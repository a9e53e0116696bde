import { expect, it } from "vitest";
import { createLogger } from "../../platform/logger.ts";
import { warmUpCollector } from "./warm-up.ts";

const log = createLogger("silent");

it("runs every synthetic request through the check, the stamps and the lines, and is done only then", async () => {
  const warmUp = warmUpCollector({ requests: 20, log });
  // It starts on the next turn of the event loop: not done before.
  expect(warmUp.isDone()).toBe(false);
  const report = await warmUp.done;
  expect(warmUp.isDone()).toBe(true);
  expect(report.requests).toBe(20);
  // 50 items a request, less the one refused item of requests 9 and 19.
  expect(report.lines).toBe(20 * 50 - 2);
  // Each message is its header and its lines: far more than 100 bytes a line.
  expect(report.messageBytes).toBeGreaterThan(report.lines * 100);
});

it("stops after the request under way", async () => {
  const warmUp = warmUpCollector({ requests: 10_000, log });
  await new Promise((resolve) => setImmediate(resolve));
  warmUp.stop();
  const report = await warmUp.done;
  expect(warmUp.isDone()).toBe(true);
  expect(report.requests).toBeLessThan(10);
});
