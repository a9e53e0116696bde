import type { Deps } from "../deps.ts";
import { registerCleanupJob } from "../platform/jobs/cleanup.job.ts";
import { consumeEventCancellations } from "../modules/participation/event-cancelled.consumer.ts";
import { startOutboxRelay } from "../platform/outbox/relay.ts";

/** The worker role: the outbox relay, domain-event consumers and job handlers. stop() drains them. */
export async function startWorkerRole(deps: Deps) {
  const relay = await startOutboxRelay(deps);
  const eventCancellations = await consumeEventCancellations(deps);
  // Each job this role runs registers its handler (and schedule, if any) here.
  await registerCleanupJob(deps);
  return {
    async stop() {
      await relay.stop();
      await eventCancellations.unsubscribe();
      await deps.jobs.stopWorking();
    },
  };
}
