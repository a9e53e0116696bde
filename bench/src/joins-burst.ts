import { join } from "node:path";
import { openCrowd, percentile } from "./burst.ts";
import type { JoinsDatabase } from "./joins-setup.ts";
import { progress } from "./scenario.ts";

/** The burst of the joins scenario: this many distinct users join one event at the same moment. */
export const BURST = { users: 1_500, capacity: 100, waitlistLimit: 100 };

/** A bare Fastify server answering the burst's requests with a constant (startChildServer it). */
export const BURST_FLOOR_SERVER = join(import.meta.dirname, "servers/bare-fastify.server.ts");

export interface JoinBurstResult {
  isExact: boolean;
  /** Answers other than 201 and 409. */
  errors: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** When the load generator had handed the last request to the kernel. */
  allSentMs: number;
  firstAnswerMs: number;
}

/**
 * One join each for `tokens` (never seen by the server before, as in a flash crowd), each on its own open
 * connection, sent at once to a new event of BURST's seats; checks the answers against the rows. `around`
 * runs just before the first request and just after the last answer (to profile the burst alone).
 */
export async function runJoinBurst(
  baseUrl: string,
  database: JoinsDatabase,
  tokens: readonly string[],
  around: { before(): void | Promise<void>; after(): void | Promise<void> } = {
    before: () => undefined,
    after: () => undefined,
  },
): Promise<JoinBurstResult> {
  const eventId = await database.createEvent(BURST);
  // Idle, the crowd's connections would slow a storm that follows by a tenth: they close once it is over.
  const crowd = await openCrowd(baseUrl, tokens.length);
  try {
    progress(`joins: burst of ${tokens.length} at once`);
    const requests = tokens.map((token) => ({
      path: `/api/events/${eventId}/join`,
      method: "POST" as const,
      headers: { authorization: `Bearer ${token}` },
    }));
    await around.before();
    const { answers, allSentMs } = await crowd.send(requests);
    await around.after();
    const count = (status: number) => answers.filter((answer) => answer.status === status).length;
    const check = await database.readEvent(eventId);
    const positions = answers
      .map((answer) => answer.body)
      .filter((body): body is { status: string; waitlistPosition: number } => isWaitlisted(body))
      .map((body) => body.waitlistPosition)
      .sort((a, b) => a - b);
    const isExact =
      count(201) === BURST.capacity + BURST.waitlistLimit &&
      count(409) === tokens.length - BURST.capacity - BURST.waitlistLimit &&
      check.confirmedCount === BURST.capacity &&
      check.confirmed.length === BURST.capacity &&
      check.waitlistedCount === BURST.waitlistLimit &&
      check.waitlisted.length === BURST.waitlistLimit &&
      positions.every((position, index) => position === index + 1);
    const times = answers.map((answer) => answer.ms);
    const result = {
      isExact,
      errors: answers.filter((answer) => answer.status !== 201 && answer.status !== 409).length,
      p50Ms: percentile(times, 0.5),
      p95Ms: percentile(times, 0.95),
      maxMs: percentile(times, 1),
      allSentMs,
      firstAnswerMs: percentile(times, 0),
    };
    progress(
      `joins: burst sent in ${result.allSentMs} ms, answered from ${result.firstAnswerMs} ms, p50 ` +
        `${result.p50Ms} ms, p95 ${result.p95Ms} ms, max ${result.maxMs} ms; ` +
        `${count(201)} x 201, ${count(409)} x 409`,
    );
    return result;
  } finally {
    crowd.close();
  }
}

function isWaitlisted(body: unknown): body is { status: string; waitlistPosition: number } {
  return (
    typeof body === "object" &&
    body !== null &&
    "status" in body &&
    body.status === "waitlisted" &&
    "waitlistPosition" in body &&
    typeof body.waitlistPosition === "number"
  );
}

/**
 * The floor of the burst: the same 1,500 requests on as many open connections, sent at once by the same
 * load generator to the bare server at `baseUrl` (BURST_FLOOR_SERVER); resolves with their p95 in ms.
 */
export async function runBurstFloor(baseUrl: string): Promise<number> {
  const crowd = await openCrowd(baseUrl, BURST.users);
  try {
    const request = { path: "/api/events/x/join", method: "POST" as const, headers: { authorization: "x" } };
    const { answers, allSentMs } = await crowd.send(Array.from({ length: BURST.users }, () => request));
    const times = answers.map((answer) => answer.ms);
    const p95Ms = percentile(times, 0.95);
    progress(
      `burst floor: sent in ${allSentMs} ms, answered from ${percentile(times, 0)} ms, p50 ` +
        `${percentile(times, 0.5)} ms, p95 ${p95Ms} ms`,
    );
    return p95Ms;
  } finally {
    crowd.close();
  }
}
