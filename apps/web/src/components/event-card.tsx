import type { Event } from "@turnout/contracts";
import { Link } from "@tanstack/react-router";
import { useI18n } from "../i18n/i18n.tsx";
import { seatsLeft } from "../lib/format.ts";

/** One event in a list: what, when, where, and how many seats are left. Cancelled ones are greyed out. */
export function EventCard({ event }: { event: Event }) {
  const { t, formatDateTime, formatNumber } = useI18n();
  const left = seatsLeft(event.capacity, event.stats.confirmed);
  const isCancelled = event.status === "cancelled";
  return (
    <article
      className={`card flex h-full flex-col gap-2 transition ${isCancelled ? "opacity-60 grayscale" : "hover:border-indigo-300 hover:shadow-md"}`}
      data-status={event.status}
    >
      <div className="flex flex-wrap items-center gap-2 text-xs font-semibold uppercase tracking-wide text-indigo-800">
        <span>{t.categoryNames[event.category]}</span>
        {isCancelled && <span className="rounded bg-gray-200 px-2 py-0.5 text-gray-900">{t.cancelled}</span>}
        {event.status === "draft" && (
          <span className="rounded bg-amber-100 px-2 py-0.5 text-amber-950">{t.draft}</span>
        )}
        {event.ended && <span className="rounded bg-gray-200 px-2 py-0.5 text-gray-900">{t.ended}</span>}
      </div>
      <h3 className="text-lg font-semibold leading-snug">
        <Link
          to="/events/$id"
          params={{ id: event.id }}
          className="after:absolute after:inset-0 focus-visible:underline"
        >
          {event.title}
        </Link>
      </h3>
      <p className="text-sm text-gray-700">{formatDateTime(event.startsAt)}</p>
      <p className="text-sm text-gray-700">{event.venue?.name ?? t.online}</p>
      <p className="mt-auto pt-2 text-sm font-medium text-gray-800">
        {left === null
          ? t.going(formatNumber(event.stats.confirmed))
          : t.seatsLeft(formatNumber(left), formatNumber(event.capacity ?? 0))}
      </p>
    </article>
  );
}
