import { createLogger } from "../src/platform/logger.ts";
import { createJobQueueFor } from "../src/platform/jobs/job-queue.ts";
import { killCatalog, killKinds } from "./job-kill.support.ts";

/*
 * The child process of job-expiry.int.test.ts: takes every job of the kill catalog and never finishes one,
 * reporting each as `TAKEN <name> <id> <ms since epoch>`, until it is killed.
 * Env: DATABASE_URL.
 */

const queue = await createJobQueueFor(killCatalog, killKinds, {
  databaseUrl: process.env.DATABASE_URL ?? "",
  log: createLogger("warn"),
  pollIntervalMs: 500,
});
for (const name of ["kill.short", "kill.long"] as const) {
  queue.work(name, (_payload, job) => {
    process.stdout.write(`TAKEN ${name} ${job.id} ${Date.now()}\n`);
    return new Promise<void>(() => undefined);
  });
}
process.stdout.write("READY\n");
