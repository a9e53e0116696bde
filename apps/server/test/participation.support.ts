import { type Participation, participationSchema } from "@turnout/contracts";
import type { LightMyRequestResponse } from "fastify";
import type { TestApp } from "./app.ts";

// Test support for the participation suites: reading answers and checking the invariants from the rows.

/** The Participation a response carries, checked against the contract. */
export function participationOf(response: LightMyRequestResponse): Participation {
  return participationSchema.parse(response.json());
}

/** The event's counters (its admission row) and what its participation rows say, to compare. */
export async function countersAndLists(t: TestApp, eventId: string) {
  const admission = await t.deps.db
    .selectFrom("admissions")
    .select(["capacity", "confirmed", "waitlisted", "checked_in"])
    .where("event_id", "=", eventId)
    .executeTakeFirstOrThrow();
  const rows = await t.deps.db
    .selectFrom("participations")
    .select(["user_id", "status", "queue_number", "checked_in_at"])
    .where("event_id", "=", eventId)
    .orderBy("queue_number")
    .execute();
  const confirmed = rows.filter((row) => row.status === "confirmed");
  const waitlisted = rows.filter((row) => row.status === "waitlisted");
  return {
    counters: {
      capacity: admission.capacity,
      confirmed: admission.confirmed,
      waitlisted: admission.waitlisted,
      checkedIn: admission.checked_in,
    },
    lists: {
      confirmed: confirmed.map((row) => row.user_id),
      waitlisted: waitlisted.map((row) => row.user_id),
      checkedIn: confirmed.filter((row) => row.checked_in_at !== null).length,
    },
    rows,
  };
}

/** Throws unless the counters equal the lists, no one is listed twice and capacity holds. */
export async function expectConsistent(t: TestApp, eventId: string) {
  const { counters, lists, rows } = await countersAndLists(t, eventId);
  const problems: string[] = [];
  if (counters.confirmed !== lists.confirmed.length)
    problems.push(`confirmed ${counters.confirmed} != ${lists.confirmed.length} rows`);
  if (counters.waitlisted !== lists.waitlisted.length)
    problems.push(`waitlisted ${counters.waitlisted} != ${lists.waitlisted.length} rows`);
  if (counters.checkedIn !== lists.checkedIn)
    problems.push(`checkedIn ${counters.checkedIn} != ${lists.checkedIn} rows`);
  if (counters.capacity !== null && lists.confirmed.length > counters.capacity)
    problems.push(`${lists.confirmed.length} confirmed over capacity ${counters.capacity}`);
  if (new Set(rows.map((row) => row.user_id)).size !== rows.length) problems.push("a user holds two rows");
  if (problems.length > 0) throw new Error(`inconsistent event ${eventId}: ${problems.join("; ")}`);
  return { counters, lists };
}
