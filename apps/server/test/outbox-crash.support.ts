import type { DomainEvent } from "@turnout/contracts";
import { sql } from "kysely";
import type { Db, Trx } from "../src/platform/db.ts";

/*
 * Shared by the crash test and its child process. Every application of a message is counted, so a
 * duplicate shows as n > 1 instead of being hidden by a primary key.
 */

export const CRASH_CONSUMER = "crash-test";

/** Creates the table the crash consumer writes to. */
export async function createAppliedTable(db: Db): Promise<void> {
  await sql`
    CREATE TABLE applied (
      message_id text PRIMARY KEY,
      aggregate_id text NOT NULL,
      n int NOT NULL,
      first_applied bigint GENERATED ALWAYS AS IDENTITY
    )`.execute(db);
}

/** The crash consumer's effect: counts one more application of `event`. */
export async function recordApplication(event: DomainEvent, trx: Trx): Promise<void> {
  // The crash under test is the app process's, which loses no committed transaction either way; not
  // waiting for each WAL flush keeps 10,000 one-message transactions within the deadline on a busy machine.
  await sql`SET LOCAL synchronous_commit = off`.execute(trx);
  await sql`
    INSERT INTO applied (message_id, aggregate_id, n) VALUES (${event.id}, ${event.aggregateId}, 1)
    ON CONFLICT (message_id) DO UPDATE SET n = applied.n + 1`.execute(trx);
}
