import type { JobName } from "@turnout/contracts";

/*
 * What the queue knows of each kind of job besides its payload (contracts' jobs.ts): one place, and a kind
 * missing here fails the type check. `expireInSeconds` is how long one attempt may run before it is aborted
 * and retried (job-worker.ts), and so also how long a job taken by a process that died stays `active` before
 * it is retried (plus up to the 10 s between expiry sweeps). pg-boss's default, 15 minutes, would leave a
 * short job waiting that long after a crash; each kind below is sized to its real work with headroom.
 */

export interface JobKind {
  /** The longest one attempt may run; a crashed attempt is retried this long (+ <= 10 s) after it started. */
  expireInSeconds: number;
}

/** Every job kind's settings, by job name; the queue applies them to the kind's queue at start. */
export type JobKinds<Name extends string> = { readonly [N in Name]: JobKind };

export const jobKinds: JobKinds<JobName> = {
  // Deletes in batches of 5,000 until a batch comes back short; each batch commits, so an attempt cut off by
  // its expiry loses nothing. A backlog after a long outage is cleared in a few minutes.
  "maintenance.cleanup": { expireInSeconds: 300 },
  "auth.token-cleanup": { expireInSeconds: 300 },
  // At most 10 transactions of 24 hours each, every statement under the 30 s statement timeout; a usual run
  // takes well under a second. The next minute's run starts anyway, so a crash delays no rollup.
  "interactions.rollup": { expireInSeconds: 600 },
  // One transaction per event starting within a day; reminders are keyed per event and start, so the retry
  // of a cut-off run creates none twice.
  "notifications.reminders": { expireInSeconds: 300 },
  // Decodes, checks, re-encodes and thumbnails one image of at most 20 MiB: seconds on a busy machine.
  "photos.process": { expireInSeconds: 120 },
  // At most 10 storage deletes.
  "photos.delete-files": { expireInSeconds: 60 },
  // One SMTP conversation: 30 s is ample, and a mail taken by a worker that died is sent again about that
  // long after (the row lock keeps a slow first attempt and its retry from both sending).
  "mail.send": { expireInSeconds: 30 },
};
