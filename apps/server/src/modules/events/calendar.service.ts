import { randomBytes } from "node:crypto";
import type { Event } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../platform/errors.ts";
import type { AuthUser } from "../auth/index.ts";
import { listConfirmedEventIds } from "../participation/index.ts";
import * as repo from "./calendar.repo.ts";
import { toEventViews } from "./event-view.ts";
import { findEvents } from "./events.repo.ts";
import { getEvent } from "./events.service.ts";
import { type IcalEvent, serializeCalendar } from "./ical.ts";

export type CalendarDeps = Pick<Deps, "db" | "clock">;

/** One event as a calendar, for anyone who may see it (the rule of GET /api/events/:id); 404 otherwise. */
export async function getEventCalendar(
  deps: CalendarDeps,
  actor: AuthUser | null,
  eventId: string,
  origin: string,
): Promise<string> {
  const event = await getEvent(deps, actor, eventId);
  return serializeCalendar({
    name: event.title,
    timezone: event.timezone,
    events: [toIcalEvent(event, origin, deps.clock.now())],
  });
}

/**
 * The caller's secret feed token, made on first call and the same afterwards. A random token stored per user
 * (rather than an HMAC of the user id) can be revoked or rotated one user at a time by deleting the row.
 */
export async function getFeedToken(deps: CalendarDeps, actor: AuthUser): Promise<string> {
  return repo.ensureFeedToken(deps.db, actor.id, randomBytes(32).toString("base64url"));
}

/**
 * The feed a token names: the events its owner holds a confirmed seat at, latest start first (cancelled
 * ones stay, marked CANCELLED, until the participation follows); 404 calendar.not_found for an unknown token.
 */
export async function getFeedCalendar(deps: CalendarDeps, token: string, origin: string): Promise<string> {
  const userId = await repo.findFeedOwner(deps.db, token);
  if (userId === undefined) throw new AppError("calendar.not_found", "No such calendar feed.");
  const now = deps.clock.now();
  const records = await findEvents(deps.db, await listConfirmedEventIds(deps.db, userId));
  const shown = records
    .filter((record) => record.status !== "draft")
    .sort((a, b) => b.startsAt.getTime() - a.startsAt.getTime());
  const events = await toEventViews(deps.db, shown, now);
  return serializeCalendar({
    name: "Turnout",
    // Feed events may lie in different zones; their UTC times are exact, so none is claimed for all.
    timezone: null,
    events: events.map((event) => toIcalEvent(event, origin, now)),
  });
}

// A draft is only ever exported to its organizer or a moderator; TENTATIVE tells their calendar so.
const ICAL_STATUS = { draft: "TENTATIVE", published: "CONFIRMED", cancelled: "CANCELLED" } as const;

function toIcalEvent(event: Event, origin: string, now: Date): IcalEvent {
  return {
    uid: `${event.id}@turnout`,
    start: new Date(event.startsAt),
    end: new Date(event.endsAt),
    summary: event.title,
    description: event.description,
    location: event.venue === null ? event.onlineUrl : `${event.venue.name}, ${event.venue.address}`,
    url: `${origin}/events/${event.id}`,
    status: ICAL_STATUS[event.status],
    sequence: event.version,
    stamp: now,
    lastModified: new Date(event.updatedAt),
  };
}
