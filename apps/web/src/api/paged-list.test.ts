import { type InfiniteData, InfiniteQueryObserver, QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import {
  describePagedList,
  lastRefreshFailure,
  type ListPage,
  refreshPagedLists,
  watchRefreshes,
} from "./paged-list.ts";

/*
 * The turns a paged list's fetches take, on TanStack Query's own client (no network): a refresh asked for while
 * the next page is on its way waits for it and then fetches both pages again.
 */

const KEY = ["letters"] as const;

/**
 * A list of letters served two to a page; `hold` makes the next answer wait until the returned release runs;
 * `failNext` makes the next `count` answers fail.
 */
function letterList(letters: string[]) {
  const asked: (string | undefined)[] = [];
  let gate: Promise<void> | null = null;
  let failures = 0;
  const fetchPage = async (cursor: string | undefined): Promise<ListPage<string>> => {
    asked.push(cursor);
    if (gate !== null) await gate;
    if (failures > 0) {
      failures -= 1;
      throw new Error("503 from the server");
    }
    const start = cursor === undefined ? 0 : letters.indexOf(cursor) + 1;
    const items = letters.slice(start, start + 2);
    const last = items.at(-1);
    return { items, nextCursor: last !== undefined && start + 2 < letters.length ? last : null };
  };
  const hold = () => {
    let release = () => {};
    gate = new Promise<void>((resolve) => {
      release = () => {
        gate = null;
        resolve();
      };
    });
    return release;
  };
  const failNext = (count = 1) => {
    failures = count;
  };
  return { asked, fetchPage, hold, failNext };
}

function observe(client: QueryClient, fetchPage: (cursor: string | undefined) => Promise<ListPage<string>>) {
  const observer = new InfiniteQueryObserver<
    ListPage<string>,
    Error,
    InfiniteData<ListPage<string>>,
    typeof KEY,
    string | undefined
  >(client, {
    queryKey: KEY,
    queryFn: ({ pageParam }: { pageParam: string | undefined }) => fetchPage(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page: ListPage<string>) => page.nextCursor ?? undefined,
  });
  const unsubscribe = observer.subscribe(() => undefined);
  watchRefreshes(client.getQueryCache());
  // What usePagedList shows of the list.
  const view = () =>
    describePagedList(
      observer.getCurrentResult(),
      lastRefreshFailure(client.getQueryCache().find({ queryKey: KEY, exact: true })),
    );
  return { observer, unsubscribe, view };
}

const shown = (client: QueryClient) =>
  client.getQueryData<{ pages: ListPage<string>[] }>(KEY)?.pages.flatMap((page) => page.items);

describe("refreshPagedLists", () => {
  it("waits for the next page on its way, then fetches every loaded page again", async () => {
    const letters = ["a", "b", "c", "d", "e", "f"];
    const list = letterList(letters);
    const client = new QueryClient();
    const { observer, unsubscribe } = observe(client, list.fetchPage);
    await client.getQueryCache().find({ queryKey: KEY })?.promise;
    expect(shown(client)).toEqual(["a", "b"]);

    const release = list.hold();
    const nextPage = observer.fetchNextPage();
    letters.splice(0, 0, "0"); // the live change: a new first item
    const refreshed = refreshPagedLists(client, { queryKey: KEY });
    release();
    await nextPage;
    await refreshed;

    // The next page landed and the refresh read both pages anew, with the cursors the new pages give.
    expect(shown(client)).toEqual(["0", "a", "b", "c"]);
    expect(list.asked).toEqual([undefined, "b", undefined, "a"]);
    unsubscribe();
  });

  it("runs one waiting refresh for a burst of changes", async () => {
    const list = letterList(["a", "b", "c"]);
    const client = new QueryClient();
    const { unsubscribe } = observe(client, list.fetchPage);
    await client.getQueryCache().find({ queryKey: KEY })?.promise;
    const release = list.hold();
    const first = refreshPagedLists(client, { queryKey: KEY }); // starts at once
    const waiting = [1, 2, 3].map(() => refreshPagedLists(client, { queryKey: KEY }));
    release();
    await Promise.all([first, ...waiting]);
    expect(list.asked).toEqual([undefined, undefined, undefined]);
    unsubscribe();
  });
});

describe("a paged list's failures", () => {
  // The app's client retries a 5xx twice first (api/queries.ts); here the failure is the one that is left.
  const quietClient = () => new QueryClient({ defaultOptions: { queries: { retry: false } } });

  async function twoPagesShown() {
    const list = letterList(["a", "b", "c", "d", "e", "f", "g"]);
    const client = quietClient();
    const { observer, unsubscribe, view } = observe(client, list.fetchPage);
    await client.getQueryCache().find({ queryKey: KEY })?.promise;
    await observer.fetchNextPage();
    expect(view().items).toEqual(["a", "b", "c", "d"]);
    return { list, client, observer, unsubscribe, view };
  }

  it("keeps the loaded pages when the next page fails, and says so at the list's end", async () => {
    const { list, observer, unsubscribe, view } = await twoPagesShown();
    list.failNext();
    await observer.fetchNextPage();
    const shownList = view();
    expect(shownList.items).toEqual(["a", "b", "c", "d"]);
    expect(shownList.error).toBeNull(); // not the page's error view
    expect(shownList.loadMoreError?.message).toBe("503 from the server");
    expect(shownList.refreshError).toBeNull();
    expect(shownList.hasNextPage).toBe(true);
    unsubscribe();
  });

  it("asks for the failed page once more on retry, and shows it once", async () => {
    const { list, observer, unsubscribe, view } = await twoPagesShown();
    list.failNext();
    await observer.fetchNextPage();
    expect(view().loadMoreError).not.toBeNull();
    const retry = observer.fetchNextPage();
    // While the retry is on its way, the old failure is not shown.
    expect(view().loadMoreError).toBeNull();
    await retry;
    expect(view().items).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(view().loadMoreError).toBeNull();
    expect(list.asked).toEqual([undefined, "b", "d", "d"]);
    unsubscribe();
  });

  it("keeps the loaded pages when a refresh fails, as a refresh error, until one succeeds", async () => {
    const { list, client, unsubscribe, view } = await twoPagesShown();
    list.failNext();
    await refreshPagedLists(client, { queryKey: KEY });
    expect(view().items).toEqual(["a", "b", "c", "d"]);
    expect(view().error).toBeNull();
    expect(view().refreshError?.message).toBe("503 from the server");
    expect(view().loadMoreError).toBeNull();

    await refreshPagedLists(client, { queryKey: KEY });
    expect(view().items).toEqual(["a", "b", "c", "d"]);
    expect(view().refreshError).toBeNull();
    unsubscribe();
  });

  it("keeps a failed refresh's failure when a next page loads after it, until a refresh succeeds", async () => {
    const { list, client, observer, unsubscribe, view } = await twoPagesShown();
    list.failNext();
    await refreshPagedLists(client, { queryKey: KEY });
    expect(view().refreshError?.message).toBe("503 from the server");

    await observer.fetchNextPage();
    // TanStack's own view forgets the failure; the first two pages are still the ones it left.
    expect(observer.getCurrentResult().isRefetchError).toBe(false);
    expect(view().items).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(view().refreshError?.message).toBe("503 from the server");

    // A refresh that succeeds ends it, also when a next page starts as it ends, before anyone looks.
    await refreshPagedLists(client, { queryKey: KEY });
    await observer.fetchNextPage();
    expect(view().items).toEqual(["a", "b", "c", "d", "e", "f", "g"]);
    expect(view().refreshError).toBeNull();
    unsubscribe();
  });

  it("shows the first page's failure as the page's error, with nothing loaded", async () => {
    const list = letterList(["a", "b", "c"]);
    list.failNext();
    const client = quietClient();
    const { unsubscribe, view } = observe(client, list.fetchPage);
    await client
      .getQueryCache()
      .find({ queryKey: KEY })
      ?.promise?.catch(() => undefined);
    expect(view().items).toEqual([]);
    expect(view().error?.message).toBe("503 from the server");
    expect(view().loadMoreError).toBeNull();
    expect(view().refreshError).toBeNull();
    unsubscribe();
  });
});
