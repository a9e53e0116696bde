import type { DeadJob } from "@turnout/contracts";
import type PgBoss from "pg-boss";
import { z } from "zod";
import { AppError } from "../errors.ts";

/*
 * Reads of pg-boss's own tables that its API does not offer: dead jobs across every queue, and counts for
 * metrics. pg-boss 10 keeps every job in `<schema>.job` (partitioned by queue name); a job whose retries are
 * spent has state `failed` until maintenance archives it. Its own cron plumbing (`__pgboss__*`) is left out.
 */

export const JOBS_SCHEMA = "pgboss";
const OWN_QUEUES = `name NOT LIKE '\\_\\_pgboss\\_\\_%'`;

export interface JobCounts {
  /** Waiting to run: new, or waiting for a retry. */
  queued: number;
  dead: number;
}

const countsSchema = z.object({ queued: z.number().int(), dead: z.number().int() });

/** How many jobs wait to run and how many are dead, over every queue. */
export async function countJobs(db: PgBoss.Db): Promise<JobCounts> {
  const result = await db.executeSql(
    `SELECT count(*) FILTER (WHERE state IN ('created', 'retry'))::int AS queued,
            count(*) FILTER (WHERE state = 'failed')::int AS dead
     FROM ${JOBS_SCHEMA}.job WHERE ${OWN_QUEUES}`,
    [],
  );
  return countsSchema.parse(result.rows[0]);
}

const deadRowSchema = z.object({
  id: z.string(),
  name: z.string(),
  data: z.unknown(),
  output: z.unknown(),
  retry_count: z.number().int(),
  started_on: z.date().nullable(),
  created_on: z.date(),
  completed_on: z.date().nullable(),
});

// pg-boss stores a thrown error serialized ({ name, message, stack }); its own timeouts as { value: { message } }.
const failureOutputSchema = z.union([
  z.object({ message: z.string() }),
  z.object({ value: z.object({ message: z.string() }) }).transform((output) => output.value),
]);

/** Dead jobs of every queue, the most recently failed first. */
export async function listDeadJobs(db: PgBoss.Db, limit: number): Promise<DeadJob[]> {
  const result = await db.executeSql(
    `SELECT id::text, name, data, output, retry_count, started_on, created_on, completed_on
     FROM ${JOBS_SCHEMA}.job
     WHERE state = 'failed' AND ${OWN_QUEUES}
     ORDER BY completed_on DESC NULLS LAST, id
     LIMIT $1`,
    [limit],
  );
  return z
    .array(deadRowSchema)
    .parse(result.rows)
    .map((row) => {
      const output = failureOutputSchema.safeParse(row.output);
      return {
        id: row.id,
        name: row.name,
        data: row.data,
        error: output.success ? output.data.message : null,
        // retry_count counts fetches after the first, so a job that never started made no attempt.
        attempts: row.started_on === null ? 0 : row.retry_count + 1,
        createdAt: row.created_on.toISOString(),
        failedAt: row.completed_on?.toISOString() ?? null,
      };
    });
}

/** The queue of dead job `id`; AppError job.not_found when there is no such dead job. */
export async function findDeadJobQueue(db: PgBoss.Db, id: string): Promise<string> {
  const notFound = new AppError("job.not_found", "No dead job has this id.");
  if (!z.guid().safeParse(id).success) throw notFound;
  const result = await db.executeSql(
    `SELECT name FROM ${JOBS_SCHEMA}.job WHERE id = $1 AND state = 'failed' AND ${OWN_QUEUES}`,
    [id],
  );
  const row = z.array(z.object({ name: z.string() })).parse(result.rows)[0];
  if (row === undefined) throw notFound;
  return row.name;
}
