import { type Event, eventSchema, validationDetailSchema } from "@turnout/contracts";
import type { LightMyRequestResponse } from "fastify";
import type { TestApp } from "./app.ts";
import { bearer } from "./factories.ts";

// Test support for the events suites: bodies and events made through the real API.

const HOUR = 60 * 60 * 1000;

type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** A request helper for the app `getApp` returns at call time: method, URL, caller, JSON body, headers. */
export function createCall(getApp: () => TestApp) {
  return (
    method: Method,
    url: string,
    who?: { accessToken: string },
    payload?: object,
    headers: Record<string, string> = {},
  ) => getApp().app.inject({ method, url, payload, headers: { ...(who ? bearer(who) : {}), ...headers } });
}

/** The sorted `path`s of a validation.failed answer's details. */
export function detailPaths(response: LightMyRequestResponse): string[] {
  const body = response.json<{ error: { details: unknown } }>();
  return validationDetailSchema
    .array()
    .parse(body.error.details)
    .map((detail) => detail.path)
    .sort();
}

/** The Event a response carries, checked against the contract. */
export function eventOf(response: LightMyRequestResponse): Event {
  return eventSchema.parse(response.json());
}

/** Sets the event's counters on its admission row directly, standing in for the participation module. */
export async function setCounters(
  t: TestApp,
  eventId: string,
  counters: { confirmed?: number; waitlisted?: number },
): Promise<void> {
  await t.deps.db.updateTable("admissions").set(counters).where("event_id", "=", eventId).execute();
}

/** A valid create body starting `startsInHours` after the app's clock, two hours long. */
export function eventBody(t: TestApp, overrides: Record<string, unknown> = {}, startsInHours = 24) {
  const startsAt = new Date(t.deps.clock.now().getTime() + startsInHours * HOUR);
  return {
    title: "Rust meetup",
    description: "Talks and pizza.",
    startsAt: startsAt.toISOString(),
    endsAt: new Date(startsAt.getTime() + 2 * HOUR).toISOString(),
    timezone: "Europe/Berlin",
    venue: { name: "Hall 5", address: "Main street 1, Berlin" },
    category: "tech",
    tags: ["rust"],
    capacity: 50,
    ...overrides,
  };
}

/** Creates a draft through POST /api/events; throws unless 201. */
export async function createDraft(
  t: TestApp,
  organizer: { accessToken: string },
  overrides: Record<string, unknown> = {},
  startsInHours = 24,
): Promise<Event> {
  const response = await t.app.inject({
    method: "POST",
    url: "/api/events",
    headers: bearer(organizer),
    payload: eventBody(t, overrides, startsInHours),
  });
  if (response.statusCode !== 201) throw new Error(`create failed: ${response.statusCode} ${response.body}`);
  return eventSchema.parse(response.json());
}

/** Creates and publishes an event; throws unless both succeed. */
export async function createPublished(
  t: TestApp,
  organizer: { accessToken: string },
  overrides: Record<string, unknown> = {},
  startsInHours = 24,
): Promise<Event> {
  const draft = await createDraft(t, organizer, overrides, startsInHours);
  const response = await t.app.inject({
    method: "POST",
    url: `/api/events/${draft.id}/publish`,
    headers: bearer(organizer),
  });
  if (response.statusCode !== 200) throw new Error(`publish failed: ${response.statusCode} ${response.body}`);
  return eventSchema.parse(response.json());
}

/** The outbox rows written for one event, in order. */
export async function outboxOf(t: TestApp, eventId: string) {
  return t.deps.db
    .selectFrom("outbox")
    .select(["aggregate_type", "type", "payload"])
    .where("aggregate_id", "=", eventId)
    .orderBy("id")
    .execute();
}
