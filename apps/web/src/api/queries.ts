import type { Event, EventFeedQuery, EventStats, StatsChangedData } from "@turnout/contracts";
import { QueryClient, queryOptions } from "@tanstack/react-query";
import { api } from "./client.ts";
import { isApiError } from "./errors.ts";
import { patchPagedLists } from "./paged-list.ts";

/** Query keys and options shared by pages and by the live updates that patch their caches. */
export const keys = {
  feed: (filters: Partial<EventFeedQuery>) => ["feed", filters] as const,
  feedAll: ["feed"] as const,
  categories: ["categories"] as const,
  event: (id: string) => ["event", id] as const,
  stats: (id: string) => ["event", id, "stats"] as const,
  participation: (id: string, userId: string) => ["event", id, "participation", userId] as const,
  ticket: (id: string, userId: string) => ["event", id, "ticket", userId] as const,
  participants: (id: string, status: "confirmed" | "waitlisted") =>
    ["event", id, "participants", status] as const,
  /** Both participant lists of one event. */
  allParticipants: (id: string) => ["event", id, "participants"] as const,
  myEvents: ["me", "events"] as const,
  myParticipations: ["me", "participations"] as const,
  calendarUrl: ["me", "calendar-url"] as const,
  adminMails: ["admin", "mail"] as const,
  adminMailFile: (id: string) => ["admin", "mail-file", id] as const,
};

export const eventQuery = (id: string) =>
  queryOptions({ queryKey: keys.event(id), queryFn: () => api.events.get(id) });

export const categoriesQuery = queryOptions({
  queryKey: keys.categories,
  queryFn: () => api.events.categories(),
  staleTime: 5_000,
});

/** The counters of a `stats.changed.v1` message, as GET /api/events/:id/stats answers them. */
export function statsOf(data: StatsChangedData): EventStats {
  return {
    capacity: data.capacity,
    confirmed: data.confirmed,
    waitlisted: data.waitlisted,
    checkedIn: data.checkedIn,
  };
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // A 4xx will not change by asking again; a network failure or a 503 may.
        retry: (count, error) =>
          count < 2 && !(isApiError(error) && error.status >= 400 && error.status < 500),
        refetchOnWindowFocus: false,
      },
    },
  });
}

/** Replaces one event wherever a cached page or list shows it (live updates). */
export function patchCachedEvent(client: QueryClient, event: Event): void {
  client.setQueryData(keys.event(event.id), (old: Event | undefined) =>
    old === undefined || old.version <= event.version ? event : old,
  );
  patchPagedLists<Event>(client, keys.feedAll, (item) =>
    item.id === event.id && item.version <= event.version ? event : item,
  );
}
