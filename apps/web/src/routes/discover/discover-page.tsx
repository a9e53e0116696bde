import {
  type Event,
  eventChangedDataSchema,
  type EventCategory,
  type EventFeedQuery,
  EVENT_CATEGORY_SLUGS,
} from "@turnout/contracts";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { getRouteApi } from "@tanstack/react-router";
import { useEffect, useRef, useState } from "react";
import { api } from "../../api/client.ts";
import { type PagedList, refreshPagedLists, usePagedList } from "../../api/paged-list.ts";
import { categoriesQuery, keys, patchCachedEvent } from "../../api/queries.ts";
import { EventCard } from "../../components/event-card.tsx";
import { LoadMore } from "../../components/load-more.tsx";
import { Empty, ErrorState, Loading } from "../../components/states.tsx";
import { useI18n } from "../../i18n/i18n.tsx";
import { useChannel } from "../../live/realtime.tsx";
import type { DiscoverWhen } from "../../router.tsx";

const route = getRouteApi("/");
const PAGE_SIZE = 12;
const DAY_MS = 86_400_000;

/** The public feed: search, categories with counts, a date filter, infinite scroll, and live changes. */
export function DiscoverPage() {
  const { t } = useI18n();
  const search = route.useSearch();
  const navigate = route.useNavigate();
  const client = useQueryClient();
  const category = EVENT_CATEGORY_SLUGS.find((slug) => slug === search.category);
  const filters = { q: search.q, category, when: search.when ?? "any" } as const;

  const feed = usePagedList(keys.feed(filters), (cursor) =>
    api.events.list({ ...toQuery(filters), cursor, limit: PAGE_SIZE }),
  );

  // New events appear without reload; a change or a cancellation is patched into the cards in place.
  useChannel(
    "events",
    (message) => {
      const parsed = eventChangedDataSchema.safeParse(message.data);
      if (!parsed.success) return;
      if (message.type === "event.published.v1") {
        void refreshPagedLists(client, { queryKey: keys.feedAll });
        void client.invalidateQueries({ queryKey: keys.categories });
      } else patchCachedEvent(client, parsed.data.event);
      if (message.type === "event.cancelled.v1") void client.invalidateQueries({ queryKey: keys.categories });
    },
    () => {
      void refreshPagedLists(client, { queryKey: keys.feedAll });
    },
  );

  const events: Event[] = feed.items;

  return (
    <section aria-labelledby="discover-title">
      <h1 id="discover-title" className="text-3xl font-bold tracking-tight sm:text-4xl">
        {t.discoverTitle}
      </h1>
      <p className="mt-2 text-gray-700">{t.discoverLead}</p>

      <div className="mt-6 flex flex-col gap-3 sm:flex-row">
        <SearchBox
          query={search.q ?? ""}
          onSearch={(q) => {
            // A history entry per settled search, so back and forward step through them (and restore the box).
            void navigate({ search: (prev) => ({ ...prev, q: q === "" ? undefined : q }) });
          }}
        />
        <label className="flex items-center gap-2 text-sm font-medium text-gray-800">
          {t.when}
          <select
            className="input w-auto"
            value={filters.when}
            onChange={(event) => {
              const when = event.target.value as DiscoverWhen;
              void navigate({ search: (prev) => ({ ...prev, when: when === "any" ? undefined : when }) });
            }}
          >
            <option value="any">{t.whenAny}</option>
            <option value="today">{t.whenToday}</option>
            <option value="week">{t.whenWeek}</option>
            <option value="month">{t.whenMonth}</option>
          </select>
        </label>
      </div>

      <CategoryChips
        selected={category}
        onSelect={(slug) => {
          void navigate({ search: (prev) => ({ ...prev, category: slug }) });
        }}
      />

      <div className="mt-6">
        {feed.isPending ? (
          <Loading />
        ) : feed.error !== null ? (
          <ErrorState error={feed.error} onRetry={() => void feed.refresh()} />
        ) : events.length === 0 ? (
          <>
            <Empty>{t.noEvents}</Empty>
            <LoadMore list={feed} />
          </>
        ) : (
          <>
            <h2 className="sr-only">{t.results}</h2>
            <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" aria-label={t.results}>
              {events.map((event) => (
                <li key={event.id} className="relative">
                  <EventCard event={event} />
                </li>
              ))}
            </ul>
            <MoreLoader list={feed} />
          </>
        )}
      </div>
    </section>
  );
}

function toQuery(filters: {
  q?: string;
  category?: EventCategory;
  when: DiscoverWhen;
}): Partial<EventFeedQuery> {
  const now = Date.now();
  const to = {
    any: undefined,
    today: new Date(new Date().setHours(24, 0, 0, 0)).getTime(),
    week: now + 7 * DAY_MS,
    month: now + 30 * DAY_MS,
  }[filters.when];
  return {
    q: filters.q,
    category: filters.category,
    to: to === undefined ? undefined : new Date(to).toISOString(),
  };
}

/** The search field; `query` is the URL's, which the field follows when it changes from outside (back, forward). */
function SearchBox({ query, onSearch }: { query: string; onSearch: (q: string) => void }) {
  const { t } = useI18n();
  const [text, setText] = useState(query);
  // The last query this field asked for: the URL reaching it is our own search, not a step through history,
  // and must not overwrite what was typed since.
  const asked = useRef(query);
  const onSearchRef = useRef(onSearch);
  useEffect(() => {
    onSearchRef.current = onSearch;
  });
  const search = (q: string) => {
    asked.current = q;
    onSearchRef.current(q);
  };
  useEffect(() => {
    if (query === asked.current) return;
    asked.current = query;
    setText(query);
  }, [query]);
  // Searching as one types, a moment after the last key.
  useEffect(() => {
    if (text.trim() === asked.current) return;
    const timer = setTimeout(() => {
      asked.current = text.trim();
      onSearchRef.current(text.trim());
    }, 300);
    return () => {
      clearTimeout(timer);
    };
  }, [text, query]);
  return (
    <form
      role="search"
      className="flex-1"
      onSubmit={(event) => {
        event.preventDefault();
        if (text.trim() !== asked.current) search(text.trim());
      }}
    >
      <label htmlFor="discover-search" className="sr-only">
        {t.search}
      </label>
      <input
        id="discover-search"
        type="search"
        className="input"
        placeholder={t.searchPlaceholder}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
        }}
      />
    </form>
  );
}

function CategoryChips({
  selected,
  onSelect,
}: {
  selected: EventCategory | undefined;
  onSelect: (slug: EventCategory | undefined) => void;
}) {
  const { t, formatNumber } = useI18n();
  const categories = useQuery(categoriesQuery);
  const chip = (isOn: boolean) =>
    `rounded-full border px-3 py-1.5 text-sm font-medium ${
      isOn
        ? "border-indigo-700 bg-indigo-700 text-white"
        : "border-gray-300 bg-white text-gray-800 hover:border-indigo-400"
    }`;
  return (
    <div role="group" aria-label={t.categories} className="mt-4 flex flex-wrap gap-2">
      <button
        type="button"
        aria-pressed={selected === undefined}
        className={chip(selected === undefined)}
        onClick={() => {
          onSelect(undefined);
        }}
      >
        {t.allCategories}
      </button>
      {categories.data?.items
        .filter((item) => item.upcomingCount > 0 || item.slug === selected)
        .map((item) => (
          <button
            key={item.slug}
            type="button"
            aria-pressed={selected === item.slug}
            className={chip(selected === item.slug)}
            onClick={() => {
              onSelect(selected === item.slug ? undefined : item.slug);
            }}
          >
            {t.categoryNames[item.slug]}{" "}
            <span className="opacity-80">{formatNumber(item.upcomingCount)}</span>
          </button>
        ))}
    </div>
  );
}

/** Loads the next page when the end of the list scrolls into view; LoadMore's button does the same by hand. */
function MoreLoader({ list }: { list: PagedList }) {
  const { t } = useI18n();
  const sentinel = useRef<HTMLDivElement>(null);
  const listRef = useRef(list);
  useEffect(() => {
    listRef.current = list;
  });
  const { hasNextPage, isLoadingMore } = list;
  // After a failed next page, only the person's "Try again" asks again: the sentinel is still in view. After a
  // failed refresh, only the note's "Refresh" or "Load more" by hand: a next page that loads ends the list's
  // failed state, so it would take away the note while the pages before it are still the old ones.
  const hasFailed = list.loadMoreError !== null || list.refreshError !== null;
  // Observed anew after each page: an observer reports only changes, so a sentinel still in view after a
  // short page (a tall screen) would otherwise never ask for the next one.
  useEffect(() => {
    const element = sentinel.current;
    if (element === null || !hasNextPage || isLoadingMore || hasFailed) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) void listRef.current.loadMore();
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
    };
  }, [hasNextPage, isLoadingMore, hasFailed]);
  return (
    <div ref={sentinel} className="mt-2">
      <LoadMore list={list} />
      {!hasNextPage && <p className="text-center text-sm text-gray-600">{t.endOfList}</p>}
    </div>
  );
}
