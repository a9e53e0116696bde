import type { Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import { AppError, sendAppError } from "./errors.ts";

const POLL_MS = 25;

function drainingError(): AppError {
  return new AppError("service.unavailable", "This instance is shutting down; retry shortly.", undefined, {
    "retry-after": "1",
    connection: "close",
  });
}

/**
 * Shutdown without resets. From the moment app.close() starts, every request gets 503 service.unavailable
 * with `Connection: close` and `Retry-After`, in the contract's body. node's server.close() would destroy the
 * idle keep-alive sockets at once, and a client sending on one just then sees ECONNRESET; so while listening,
 * the close first waits up to `graceMs` (less once no socket is left) for those clients to send, get their
 * 503 and hang up, and for requests in flight to finish. Install first, before any hook that may wait on a
 * dependency. Replaces Fastify's return503OnClosing, whose body is its own.
 */
export function installDrain(app: FastifyInstance, { graceMs }: { graceMs: number }): void {
  let isDraining = false;
  app.addHook("onRequest", (_request, reply, done) => {
    // Answered here rather than thrown: the error handler logs every 5xx as a failure, and this is none.
    if (isDraining) void sendAppError(drainingError(), reply);
    else done();
  });
  app.addHook("preClose", async () => {
    isDraining = true;
    if (app.server.listening) await waitForSockets(app.server, graceMs);
  });
}

async function waitForSockets(server: Server, graceMs: number): Promise<void> {
  const deadline = performance.now() + graceMs;
  while (performance.now() < deadline && (await countConnections(server)) > 0) await sleep(POLL_MS);
}

function countConnections(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.getConnections((error, count) => {
      resolve(error ? 0 : count);
    });
  });
}
