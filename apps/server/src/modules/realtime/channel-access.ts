import { parseChannel } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import type { AuthUser } from "../auth/index.ts";
import { canManageEvent, canSeeEvent, findEventsByIds } from "../events/index.ts";

/*
 * Who may watch which channel (API.md "Real time"): `events` anyone; `event:<id>` whoever may see the event
 * (drafts: organizer and moderators+); `user:<id>` that user alone; `dashboard:<eventId>` the organizer and
 * moderators+. The events module decides about events; its answers are kept a moment, so a reconnect storm
 * of thousands of clients on one event costs one query, not thousands.
 */

const EVENT_ACCESS_TTL_MS = 2_000;
const EVENT_ACCESS_CACHE_MAX = 10_000;

interface EventOwnership {
  status: "draft" | "published" | "cancelled";
  organizerId: string;
}

export type ChannelAccess = (user: AuthUser | null, channel: string) => Promise<boolean>;

export function createChannelAccess(deps: Pick<Deps, "db" | "clock">): ChannelAccess {
  const events = new Map<string, { until: number; found: Promise<EventOwnership | null> }>();

  function findEvent(id: string): Promise<EventOwnership | null> {
    const now = Date.now();
    const cached = events.get(id);
    if (cached !== undefined && cached.until > now) return cached.found;
    if (events.size >= EVENT_ACCESS_CACHE_MAX) events.clear();
    const found = findEventsByIds(deps, [id]).then((byId) => {
      const event = byId.get(id);
      return event === undefined ? null : { status: event.status, organizerId: event.organizer.id };
    });
    events.set(id, { until: now + EVENT_ACCESS_TTL_MS, found });
    // A failed lookup is not remembered.
    found.catch(() => events.delete(id));
    return found;
  }

  return async (user, channel) => {
    const { kind, id } = parseChannel(channel);
    if (kind === "events") return true;
    if (id === null) return false;
    if (kind === "user") return user?.id === id;
    const event = await findEvent(id);
    if (event === null) return false;
    return kind === "event" ? canSeeEvent(user, event) : canManageEvent(user, event);
  };
}
