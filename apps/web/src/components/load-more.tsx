import type { PagedList } from "../api/paged-list.ts";
import { describeError } from "../api/errors.ts";
import { useI18n } from "../i18n/i18n.tsx";

/**
 * The end of a list read page by page (an empty one too): "Load more" while there is a next page, a status line
 * that says (to the eye and to a screen reader) that it is loading, and what went wrong without taking the
 * loaded items away. A
 * failed next page is an alert, and the same button, now "Try again", asks for that page again (one button, so
 * whoever pressed it keeps the focus); a failed refresh is a quiet note with a button of its own. The busy
 * button is `aria-disabled`, not `disabled`, so it keeps the keyboard focus of whoever pressed it.
 */
export function LoadMore({ list }: { list: PagedList }) {
  const { t } = useI18n();
  const isBusy = list.isLoadingMore;
  const failure = isBusy ? null : list.loadMoreError;
  const isStale = !isBusy && list.refreshError !== null;
  return (
    <div className="mt-4 flex flex-col items-center gap-2">
      {/* An alert is announced as it enters the page (as the app's other refusals are); none while quiet. */}
      {failure !== null && (
        <p role="alert" className="text-center text-sm text-red-800">
          {`${t.loadMoreFailed} ${describeError(failure, t)}`}
        </p>
      )}
      {list.hasNextPage && (
        <button
          type="button"
          className="btn-secondary"
          aria-disabled={isBusy}
          onClick={() => {
            if (!isBusy) void list.loadMore();
          }}
        >
          {failure === null ? t.loadMore : t.tryAgain}
        </button>
      )}
      {/* In the page while quiet, so its first change is announced. */}
      <p role="status" className="text-sm text-gray-600">
        {isBusy ? t.loadingMore : isStale ? t.refreshFailed : ""}
      </p>
      {isStale && (
        <button
          type="button"
          className="text-sm text-indigo-800 underline"
          onClick={() => void list.refresh()}
        >
          {t.refresh}
        </button>
      )}
    </div>
  );
}
