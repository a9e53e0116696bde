import { InfiniteQueryObserver, QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { type ListPage, refreshPagedLists } from "./paged-list.ts";

/*
 * The turns a paged list's fetches take, on TanStack Query's own client (no network): a refresh asked for while
 * the next page is on its way waits for it and then fetches both pages again.
 */

const KEY = ["letters"] as const;

/** A list of letters served two to a page; `hold` makes the next answer wait until the returned release runs. */
function letterList(letters: string[]) {
  const asked: (string | undefined)[] = [];
  let gate: Promise<void> | null = null;
  const fetchPage = async (cursor: string | undefined): Promise<ListPage<string>> => {
    asked.push(cursor);
    if (gate !== null) await gate;
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
  return { asked, fetchPage, hold };
}

function observe(client: QueryClient, fetchPage: (cursor: string | undefined) => Promise<ListPage<string>>) {
  const observer = new InfiniteQueryObserver(client, {
    queryKey: KEY,
    queryFn: ({ pageParam }: { pageParam: string | undefined }) => fetchPage(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page: ListPage<string>) => page.nextCursor ?? undefined,
  });
  const unsubscribe = observer.subscribe(() => undefined);
  return { observer, unsubscribe };
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
