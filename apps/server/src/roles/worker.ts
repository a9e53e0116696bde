import type { Deps } from "../deps.ts";
import { registerCleanupJob } from "../platform/jobs/cleanup.job.ts";
import { startOutboxRelay } from "../platform/outbox/relay.ts";

/** The worker role: the outbox relay and the job handlers. Resolves once both run; stop() drains them. */
export async function startWorkerRole(deps: Deps) {
  const relay = await startOutboxRelay(deps);
  // Each job this role runs registers its handler (and schedule, if any) here.
  await registerCleanupJob(deps);
  return {
    async stop() {
      await relay.stop();
      await deps.jobs.stopWorking();
    },
  };
}
