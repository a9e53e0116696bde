import type { PagedList } from "../api/paged-list.ts";
import { useI18n } from "../i18n/i18n.tsx";

/**
 * "Load more" below a list read page by page: a button while there is a next page, and a status line that says
 * (to the eye and to a screen reader) that the next page is loading. The busy button is `aria-disabled`, not
 * `disabled`, so it keeps the keyboard focus of whoever pressed it.
 */
export function LoadMore({ list }: { list: PagedList }) {
  const { t } = useI18n();
  const isBusy = list.isLoadingMore;
  return (
    <div className="mt-4 flex flex-col items-center gap-2">
      {list.hasNextPage && (
        <button
          type="button"
          className="btn-secondary"
          aria-disabled={isBusy}
          onClick={() => {
            if (!isBusy) void list.loadMore();
          }}
        >
          {t.loadMore}
        </button>
      )}
      {/* In the page while quiet, so its first change is announced. */}
      <p role="status" className="text-sm text-gray-600">
        {isBusy ? t.loadingMore : ""}
      </p>
    </div>
  );
}
