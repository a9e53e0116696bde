import type { Deps } from "../deps.ts";
import { startTokenCleanup } from "../modules/auth/index.ts";
import { startMailJobs } from "../modules/mail/index.ts";
import { consumeNotificationTriggers, startReminders } from "../modules/notifications/index.ts";
import { startInteractionProcessor, startInteractionRollups } from "../modules/interactions/index.ts";
import { consumeEventCancellations } from "../modules/participation/index.ts";
import { startPhotoJobs } from "../modules/photos/index.ts";
import { registerCleanupJob } from "../platform/jobs/cleanup.job.ts";
import { startOutboxRelay } from "../platform/outbox/relay.ts";
import { mailOptionsOf, notificationsOptionsOf, photosOptionsOf } from "./module-options.ts";

// sharp runs each photo on one of libuv's 4 threads, and libjpeg decodes and encodes one photo on one core: so
// one photo per core, plus one whose job is between reads, writes and its transaction, keeps 2 cores busy and
// leaves a libuv thread to the storage's file I/O (found with the photos bench).
const PHOTO_PROCESSING_CONCURRENCY = 3;
// Mail jobs wait on the relay's network round trips, not the CPU.
const MAIL_SEND_CONCURRENCY = 4;

/** The worker role: the outbox relay, domain-event consumers and job handlers. stop() drains them. */
export async function startWorkerRole(deps: Deps) {
  // Consumers bind before the relay starts (ADR 0002): the in-process bus's publish waits only for the
  // consumers bound at that moment, so a row relayed before its consumer bound would be marked sent with
  // nobody having applied it, and lost if the process died before the late consumer caught up.
  const stream = deps.config.bus.domainStream;
  const eventCancellations = await consumeEventCancellations(deps, { stream });
  const notificationTriggers = await consumeNotificationTriggers(notificationsOptionsOf(deps), {
    stream,
  }).catch(async (error: unknown) => {
    await eventCancellations.unsubscribe();
    throw error;
  });
  const relay = await startOutboxRelay(deps, { stream }).catch(async (error: unknown) => {
    await eventCancellations.unsubscribe();
    await notificationTriggers.unsubscribe();
    throw error;
  });
  // Each job this role runs registers its handler (and schedule, if any) here.
  await registerCleanupJob(deps);
  await startTokenCleanup(deps);
  startPhotoJobs(photosOptionsOf(deps), { concurrency: PHOTO_PROCESSING_CONCURRENCY });
  await startReminders(notificationsOptionsOf(deps));
  const mail = startMailJobs(mailOptionsOf(deps), { concurrency: MAIL_SEND_CONCURRENCY });
  await startInteractionRollups(deps);
  const interactionProcessor = await startInteractionProcessor(deps);
  return {
    async stop() {
      await interactionProcessor.stop();
      // The relay stops first, so nothing is published to a consumer that has already left.
      await relay.stop();
      await eventCancellations.unsubscribe();
      await notificationTriggers.unsubscribe();
      await deps.jobs.stopWorking();
      mail.stop();
    },
  };
}
