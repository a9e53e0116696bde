import { participationSchema } from "@turnout/contracts";
import { expect } from "vitest";
import type { TestApp } from "./app.ts";
import type { expectConsistent } from "./participation.support.ts";

// Real concurrency for the crowd suites: requests over real sockets to a listening app (or process),
// all started before any is answered.

export interface Answer {
  status: number;
  body: unknown;
}

/** Listens on a free loopback port; returns the base URL. */
export async function listen(t: TestApp): Promise<string> {
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  const address = t.app.server.address();
  if (address === null || typeof address === "string") throw new Error("not listening on TCP");
  return `http://127.0.0.1:${address.port}`;
}

/** Sends every request at once; request i goes to baseUrls[i % baseUrls.length]. */
export async function sendAll(
  baseUrls: readonly string[],
  requests: readonly { method: "POST" | "DELETE"; path: string; token: string }[],
): Promise<Answer[]> {
  return Promise.all(
    requests.map(async ({ method, path, token }, index) => {
      const baseUrl = baseUrls[index % baseUrls.length] ?? "";
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: response.status, body: await response.json() };
    }),
  );
}

/** How many answers had each status, e.g. `{201: 10, 409: 40}`. */
export function countStatuses(answers: readonly Answer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of answers) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** The participations in the answers with `status`. */
export function participationsOf(answers: readonly Answer[], status: number) {
  return answers
    .filter((answer) => answer.status === status)
    .map((answer) => participationSchema.parse(answer.body));
}

/** 100 confirmed, 100 waitlisted with positions 1..100 in queue order, 1,300 full, no 5xx; seats before line. */
export function expectFairCrowd(
  answers: readonly Answer[],
  state: Awaited<ReturnType<typeof expectConsistent>>,
): void {
  expect(countStatuses(answers)).toEqual({ 201: 200, 409: 1_300 });
  const placed = participationsOf(answers, 201);
  expect(placed.filter((place) => place.status === "confirmed")).toHaveLength(100);
  const waitlisted = placed.filter((place) => place.status === "waitlisted");
  expect(waitlisted.map((place) => place.waitlistPosition).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
    Array.from({ length: 100 }, (_, index) => index + 1),
  );
  // The queue (by queue number) lists the waitlisted exactly in the order of the positions they were told.
  const byPosition = [...waitlisted].sort((a, b) => (a.waitlistPosition ?? 0) - (b.waitlistPosition ?? 0));
  expect(state.lists.waitlisted).toEqual(byPosition.map((place) => place.userId));
  expect(state.counters).toMatchObject({ confirmed: 100, waitlisted: 100 });
}
