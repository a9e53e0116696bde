import {
  type CategoryList,
  EVENT_CATEGORY_NAMES,
  EVENT_CATEGORY_SLUGS,
  type EventFeedQuery,
  type EventPage,
} from "@turnout/contracts";
import { decodeCursor } from "./cursor.ts";
import { toPage } from "./event-view.ts";
import type { EventsDeps } from "./events.service.ts";
import * as feed from "./feed.repo.ts";

/** How long category counts may be served from memory (API.md allows them to lag by up to 5 s). */
export const CATEGORY_COUNTS_TTL_MS = 5_000;

/** A page of the discovery feed: listed events that have not ended, by start time or, with `q`, by relevance. */
export async function listFeed(deps: EventsDeps, query: EventFeedQuery): Promise<EventPage> {
  const filter: feed.FeedFilter = {
    q: query.q,
    category: query.category,
    tag: query.tag,
    from: query.from === undefined ? undefined : new Date(query.from),
    to: query.to === undefined ? undefined : new Date(query.to),
    organizerId: query.organizer,
  };
  const cursor = query.cursor;
  const after =
    cursor === undefined
      ? undefined
      : filter.q === undefined
        ? decodeCursor(cursor, "time")
        : decodeCursor(cursor, "rank");
  const now = deps.clock.now();
  const rows = await feed.listFeed(deps.db, { filter, limit: query.limit + 1, after, now });
  return toPage(deps.db, rows, query.limit, now);
}

/**
 * The category list with upcoming counts, recounted at most every 5 s per process; concurrent callers
 * during a recount share it.
 */
export function createCategoryLister(deps: EventsDeps): () => Promise<CategoryList> {
  let cached: { at: number; list: Promise<CategoryList> } | undefined;
  return () => {
    const now = deps.clock.now().getTime();
    if (cached === undefined || now - cached.at >= CATEGORY_COUNTS_TTL_MS || now < cached.at) {
      const list = countCategories(deps);
      cached = { at: now, list };
      // A failed count is not kept: the next caller tries again.
      list.catch(() => {
        if (cached?.list === list) cached = undefined;
      });
    }
    return cached.list;
  };
}

async function countCategories(deps: EventsDeps): Promise<CategoryList> {
  const counts = await feed.countUpcomingByCategory(deps.db, deps.clock.now());
  return {
    items: EVENT_CATEGORY_SLUGS.map((slug) => ({
      slug,
      name: EVENT_CATEGORY_NAMES[slug],
      upcomingCount: counts.get(slug) ?? 0,
    })),
  };
}
