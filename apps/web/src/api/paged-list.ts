import {
  type InfiniteData,
  type InfiniteQueryObserverResult,
  type Query,
  type QueryCache,
  type QueryClient,
  type QueryFilters,
  type QueryKey,
  useInfiniteQuery,
  useQueryClient,
} from "@tanstack/react-query";
import { useRef, useState } from "react";

/*
 * Every list the app reads page by page with the API's cursor ("Load more") is a TanStack infinite query. Its
 * refetch fetches every loaded page again, each with the cursor the page before it gives now, so a refresh
 * keeps what the person loaded without gaps or repeats. What it does not do is let a refresh and a next page
 * share the list: whichever starts second cancels the first, so a live change during "Load more" dropped the
 * next page, and "Load more" during a live refresh dropped the change. Here they take turns: each waits for
 * the fetch its list is running, then starts.
 *
 * A failure takes away nothing loaded: only the first page's failure (nothing to show) is the page's error view.
 * A next page that fails (after the client's quiet retries) is said at the list's end with a button to try it
 * again; a refresh that fails leaves the pages as they were, with a notice there.
 */

/** What "Load more" (components/load-more.tsx) needs of a paged list. */
export interface PagedList {
  hasNextPage: boolean;
  /** From the request until the next page is shown, including the wait for a refresh running on the list. */
  isLoadingMore: boolean;
  /** Asks for the next page; after a failed one, asks for that same page again. */
  loadMore: () => Promise<unknown>;
  /** Why the last next page failed (the pages loaded stay); null while anything is fetched again. */
  loadMoreError: Error | null;
  /**
   * Why the last refresh of the loaded pages failed (they stay shown), until a refresh succeeds: a next page
   * that loads does not end it. Null while anything is fetched again.
   */
  refreshError: Error | null;
  /** Fetches every loaded page again, in turn with the list's other fetches. */
  refresh: () => Promise<void>;
}

/** One answer of a list route (API.md "Lists"). */
export interface ListPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** Runs `start` as soon as `query` runs no fetch (waiting for each one, also those started while it waits). */
async function runWhenIdle<T>(query: Query | undefined, start: () => Promise<T>): Promise<T> {
  while (query !== undefined && query.state.fetchStatus !== "idle")
    await query.fetch().catch(() => undefined); // Its failure is the list's to show, not this caller's.
  // Checked and started in one step: nothing can start in between.
  return start();
}

const queuedRefreshes = new WeakSet<Query>();

/**
 * Fetches every loaded page of the paged lists that `filters` match again (a live change, a write), each after
 * the fetch it is running. One refresh waits per list: it starts after every change that asked for it.
 */
export async function refreshPagedLists(client: QueryClient, filters: QueryFilters): Promise<void> {
  await Promise.all(
    client
      .getQueryCache()
      .findAll(filters)
      .map((query) => {
        if (queuedRefreshes.has(query)) return Promise.resolve();
        queuedRefreshes.add(query);
        return runWhenIdle(query, () => {
          queuedRefreshes.delete(query);
          return client.invalidateQueries({ queryKey: query.queryKey, exact: true });
        });
      }),
  );
}

/**
 * Changes the items of the paged lists under `queryKey` in place (a live patch), and again when the fetch a
 * list is running lands, since that one writes back the pages it started from. `patch` must be idempotent.
 */
export function patchPagedLists<T>(client: QueryClient, queryKey: QueryKey, patch: (item: T) => T): void {
  for (const query of client.getQueryCache().findAll({ queryKey })) {
    const apply = () => {
      client.setQueryData<InfiniteData<ListPage<T>>>(query.queryKey, (old) =>
        old === undefined
          ? old
          : { ...old, pages: old.pages.map((page) => ({ ...page, items: page.items.map(patch) })) },
      );
      return Promise.resolve();
    };
    void apply();
    if (query.state.fetchStatus !== "idle") void runWhenIdle(query, apply);
  }
}

const refreshFailures = new WeakMap<Query, Error>();
const watchedCaches = new WeakSet<QueryCache>();

/**
 * Keeps, per query, the failure of its last refresh until a refresh succeeds. TanStack ends its failed state on
 * any success, a next page's too, though the pages before that one are still those the failed refresh left.
 * Told by the cache as each fetch ends, not read off renders: a next page waiting for a refresh starts as the
 * refresh ends, before any render sees that end. A live patch (`setQueryData`) is not a refresh.
 */
export function watchRefreshes(cache: QueryCache): void {
  if (watchedCaches.has(cache)) return;
  watchedCaches.add(cache);
  cache.subscribe((event) => {
    if (event.type !== "updated" || event.query.state.fetchMeta?.fetchMore !== undefined) return;
    const { action } = event;
    const query = event.query as Query;
    if (action.type === "success" && action.manual !== true) refreshFailures.delete(query);
    const error: unknown = action.type === "error" ? action.error : undefined;
    if (error instanceof Error && query.state.data !== undefined) refreshFailures.set(query, error);
  });
}

/** The failure of the query's last refresh, if no refresh succeeded since (`watchRefreshes` keeps it). */
export function lastRefreshFailure(query: Query | undefined): Error | null {
  return (query === undefined ? undefined : refreshFailures.get(query)) ?? null;
}

/** A paged list as a page shows it: its items so far, its state, "Load more" and a refresh that keep turns. */
export interface PagedListView<T> extends PagedList {
  items: T[];
  isPending: boolean;
  /** The first page's failure only: with pages loaded, a failure is `loadMoreError` or `refreshError`. */
  error: Error | null;
  isFetching: boolean;
}

/**
 * What the page shows of a list's query: which failure it is, and that it never hides the pages loaded.
 * `refreshFailure` is the query's `lastRefreshFailure`.
 */
export function describePagedList<T>(
  result: InfiniteQueryObserverResult<InfiniteData<ListPage<T>>>,
  refreshFailure: Error | null,
): Pick<
  PagedListView<T>,
  "items" | "isPending" | "error" | "isFetching" | "hasNextPage" | "loadMoreError" | "refreshError"
> {
  // A failed query keeps its error while it fetches again: it is old news then, not to be shown.
  const isSettled = !result.isFetching;
  return {
    items: result.data?.pages.flatMap((page) => page.items) ?? [],
    isPending: result.isPending,
    error: result.data === undefined ? result.error : null,
    isFetching: result.isFetching,
    hasNextPage: result.hasNextPage,
    loadMoreError: isSettled && result.isFetchNextPageError ? result.error : null,
    refreshError: isSettled ? refreshFailure : null,
  };
}

/** Reads the list under `queryKey` page by page: `fetchPage(undefined)` is the first page. */
export function usePagedList<T>(
  queryKey: QueryKey,
  fetchPage: (cursor: string | undefined) => Promise<ListPage<T>>,
): PagedListView<T> {
  const client = useQueryClient();
  watchRefreshes(client.getQueryCache());
  const findQuery = () => client.getQueryCache().find({ queryKey, exact: true });
  const list = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam }) => fetchPage(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.nextCursor ?? undefined,
  });
  // Busy from the click, also while waiting for a refresh to land; a second request meanwhile is the same one.
  const [isLoadingMore, setLoadingMore] = useState(false);
  const loadingMore = useRef<Promise<unknown> | null>(null);
  const { fetchNextPage } = list;
  const loadMore = () => {
    if (loadingMore.current !== null) return loadingMore.current;
    setLoadingMore(true);
    const loading = runWhenIdle(findQuery(), () => fetchNextPage()).finally(() => {
      loadingMore.current = null;
      setLoadingMore(false);
    });
    loadingMore.current = loading;
    return loading;
  };
  return {
    ...describePagedList(list, lastRefreshFailure(findQuery())),
    isLoadingMore,
    loadMore,
    refresh: () => refreshPagedLists(client, { queryKey, exact: true }),
  };
}
