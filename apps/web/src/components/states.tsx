import { Link } from "@tanstack/react-router";
import type { ReactNode } from "react";
import { describeError } from "../api/errors.ts";
import { useI18n } from "../i18n/i18n.tsx";

/** What a page shows while its data loads. */
export function Loading({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <div role="status" className="flex items-center gap-3 py-10 text-gray-600">
      <span
        className="size-4 animate-spin rounded-full border-2 border-indigo-600 border-t-transparent motion-reduce:animate-none"
        aria-hidden="true"
      />
      {label ?? t.loading}
    </div>
  );
}

/** An empty list, said in words. */
export function Empty({ children }: { children: ReactNode }) {
  return (
    <p className="rounded-xl border border-dashed border-gray-300 p-8 text-center text-gray-600">
      {children}
    </p>
  );
}

/** A failure, in words people understand, with a way to try again; never the raw error object. */
export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  const message = describeError(error, t);
  return (
    <div role="alert" className="rounded-xl border border-red-200 bg-red-50 p-6 text-red-900">
      <p className="font-semibold">{t.errorTitle}</p>
      <p className="mt-1">{message}</p>
      {onRetry && (
        <button type="button" onClick={onRetry} className="btn-secondary mt-4">
          {t.tryAgain}
        </button>
      )}
    </div>
  );
}

/** A short message about the result of an action (role=status for success, alert for a refusal). */
export function Notice({ tone, children }: { tone: "ok" | "bad" | "info"; children: ReactNode }) {
  const styles = {
    ok: "border-green-200 bg-green-50 text-green-900",
    bad: "border-red-200 bg-red-50 text-red-900",
    info: "border-indigo-200 bg-indigo-50 text-indigo-900",
  }[tone];
  return (
    <div role={tone === "bad" ? "alert" : "status"} className={`rounded-lg border px-4 py-3 ${styles}`}>
      {children}
    </div>
  );
}

/** A page the signed-in person may not see (the API said 403, or their role shows it before asking). */
export function Forbidden({ children }: { children?: ReactNode }) {
  const { t } = useI18n();
  return (
    <section className="py-16 text-center" aria-labelledby="forbidden-title">
      <h1 id="forbidden-title" className="text-2xl font-bold">
        {t.forbiddenTitle}
      </h1>
      <p className="mt-2 text-gray-700">{children ?? t.forbiddenBody}</p>
      <Link to="/" className="btn-primary mt-6 inline-block">
        {t.backToDiscover}
      </Link>
    </section>
  );
}
