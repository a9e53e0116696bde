import { z } from "zod";
import type { JobCatalog, JobKinds } from "../src/platform/jobs/job-queue.ts";

/*
 * Shared by job-expiry.int.test.ts and its child process (job-kill.fixture.ts): two kinds of job that differ
 * only in their expiry, so a job of each taken by a killed process shows that each waits for its own.
 */

export const killCatalog = {
  "kill.short": z.object({ n: z.number() }),
  "kill.long": z.object({ n: z.number() }),
} satisfies JobCatalog;

export const killKinds: JobKinds<keyof typeof killCatalog> = {
  "kill.short": { expireInSeconds: 3 },
  "kill.long": { expireInSeconds: 25 },
};
