import { eventChangedDataSchema, type EventStats, statsChangedDataSchema } from "@turnout/contracts";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { getRouteApi, Link } from "@tanstack/react-router";
import { api } from "../../api/client.ts";
import { eventQuery, keys, patchCachedEvent, statsOf } from "../../api/queries.ts";
import { isApiError } from "../../api/errors.ts";
import { useSession } from "../../api/use-session.ts";
import { ErrorState, Loading, Notice } from "../../components/states.tsx";
import { useI18n } from "../../i18n/i18n.tsx";
import { mapLink, seatsLeft, viewerTimeZone } from "../../lib/format.ts";
import { useChannel } from "../../live/realtime.tsx";
import { JoinPanel } from "./join-panel.tsx";

const route = getRouteApi("/events/$id");

/** One event: when and where, live seats and waitlist, and the viewer's own place (join, leave, ticket). */
export function EventPage() {
  const { id } = route.useParams();
  const { t, formatDateTimeRange, formatNumber } = useI18n();
  const client = useQueryClient();
  const session = useSession();
  const event = useQuery(eventQuery(id));

  useChannel(
    `event:${id}`,
    (message) => {
      if (message.type === "stats.changed.v1") {
        const parsed = statsChangedDataSchema.safeParse(message.data);
        if (parsed.success) client.setQueryData<EventStats>(keys.stats(id), statsOf(parsed.data));
        return;
      }
      const parsed = eventChangedDataSchema.safeParse(message.data);
      if (parsed.success) patchCachedEvent(client, parsed.data.event);
    },
    () => {
      void client.invalidateQueries({ queryKey: keys.event(id) });
    },
  );
  // Counters of a published event, kept current by stats.changed.v1 above.
  const liveStats = useQuery({
    queryKey: keys.stats(id),
    queryFn: () => api.events.stats(id),
    enabled: event.data?.status === "published",
  });

  if (event.isPending) return <Loading />;
  if (event.isError)
    // An id that is no UUID is refused as validation.failed: for the reader, that event does not exist either.
    return isApiError(event.error, "event.not_found") || isApiError(event.error, "validation.failed") ? (
      <Notice tone="bad">{t.eventNotFound}</Notice>
    ) : (
      <ErrorState error={event.error} onRetry={() => void event.refetch()} />
    );

  const data = event.data;
  const stats = liveStats.data ?? { ...data.stats, capacity: data.capacity };
  const left = seatsLeft(stats.capacity, stats.confirmed);
  const isOrganizer = session.user?.id === data.organizer.id;
  const viewerZone = viewerTimeZone();
  const webcal = `webcal://${location.host}/api/events/${data.id}/calendar.ics`;

  return (
    <article aria-labelledby="event-title" className="grid gap-8 lg:grid-cols-[1fr_22rem]">
      <div className="min-w-0">
        <p className="text-sm font-semibold uppercase tracking-wide text-indigo-800">
          {t.categoryNames[data.category]}
          {data.status === "draft" && (
            <span className="ml-2 rounded bg-amber-100 px-2 py-0.5 text-amber-950">{t.draft}</span>
          )}
        </p>
        <h1 id="event-title" className="mt-1 break-words text-3xl font-bold tracking-tight sm:text-4xl">
          {data.title}
        </h1>
        <p className="mt-2 text-gray-700">{t.organizedBy(data.organizer.name)}</p>
        {data.status === "cancelled" && (
          <div className="mt-4">
            <Notice tone="bad">{t.cancelledBecause(data.cancelReason ?? "")}</Notice>
          </div>
        )}
        {data.coverPhotoUrl !== undefined && (
          <img
            src={data.coverPhotoUrl}
            alt=""
            className="mt-6 aspect-[2/1] w-full rounded-2xl object-cover"
          />
        )}

        <dl className="mt-6 grid gap-4 sm:grid-cols-2">
          <div className="card">
            <dt className="text-sm font-semibold text-gray-700">{t.when_}</dt>
            <dd className="mt-1">
              <p className="font-medium">{formatDateTimeRange(data.startsAt, data.endsAt, viewerZone)}</p>
              <p className="text-sm text-gray-700">{t.yourTime(viewerZone)}</p>
              {data.timezone !== viewerZone && (
                <p className="mt-1 text-sm text-gray-700">
                  {t.eventTime(formatDateTimeRange(data.startsAt, data.endsAt, data.timezone), data.timezone)}
                </p>
              )}
              <p className="mt-2 flex flex-wrap gap-x-3 gap-y-1 text-sm">
                <a
                  className="text-indigo-800 underline"
                  href={`/api/events/${data.id}/calendar.ics`}
                  download
                >
                  {t.addToCalendar}
                </a>
                <a className="text-indigo-800 underline" href={webcal}>
                  {t.subscribeWebcal}
                </a>
              </p>
            </dd>
          </div>
          <div className="card">
            <dt className="text-sm font-semibold text-gray-700">{t.where}</dt>
            <dd className="mt-1 break-words">
              {data.venue === null ? (
                <p className="font-medium">{t.online}</p>
              ) : (
                <>
                  <p className="font-medium">{data.venue.name}</p>
                  <p className="text-sm text-gray-700">{data.venue.address}</p>
                  <a
                    className="mt-2 inline-block text-sm text-indigo-800 underline"
                    href={mapLink(data.venue)}
                    rel="noopener noreferrer"
                    target="_blank"
                  >
                    {t.openMap}
                  </a>
                </>
              )}
            </dd>
          </div>
        </dl>

        {data.description !== "" && (
          <section className="mt-8" aria-labelledby="about-title">
            <h2 id="about-title" className="text-xl font-semibold">
              {t.about}
            </h2>
            <p className="mt-2 whitespace-pre-line break-words text-gray-800">{data.description}</p>
          </section>
        )}
        {data.tags.length > 0 && (
          <section className="mt-6" aria-label={t.tags}>
            <ul className="flex flex-wrap gap-2">
              {data.tags.map((tag) => (
                <li key={tag} className="rounded-full bg-gray-200 px-3 py-1 text-sm text-gray-800">
                  #{tag}
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>

      <aside className="flex flex-col gap-4">
        <section className="card" aria-label={t.going(formatNumber(stats.confirmed))}>
          <p className="text-lg font-semibold" data-testid="seats" aria-live="polite">
            {left === null
              ? t.seatsUnlimited(formatNumber(stats.confirmed))
              : t.seatsLeft(formatNumber(left), formatNumber(stats.capacity ?? 0))}
          </p>
          {stats.capacity !== null && (
            <div
              className="mt-3 h-2 overflow-hidden rounded-full bg-gray-200"
              role="progressbar"
              aria-label={t.going(formatNumber(stats.confirmed))}
              aria-valuemin={0}
              aria-valuemax={stats.capacity}
              aria-valuenow={stats.confirmed}
            >
              <div
                className="h-full rounded-full bg-indigo-600 transition-[width]"
                style={{ width: `${Math.min(100, (stats.confirmed / Math.max(1, stats.capacity)) * 100)}%` }}
              />
            </div>
          )}
          <p className="mt-2 text-sm text-gray-700" data-testid="waitlist-length">
            {t.waitlistLength(formatNumber(stats.waitlisted))}
          </p>
        </section>

        {isOrganizer ? (
          <section className="card flex flex-col gap-3">
            <p className="font-medium">{t.ownEvent}</p>
            <div className="flex flex-wrap gap-2">
              <Link to="/events/$id/edit" params={{ id }} className="btn-primary">
                {t.edit}
              </Link>
              <Link to="/events/$id/manage" params={{ id }} className="btn-secondary">
                {t.manage}
              </Link>
            </div>
          </section>
        ) : (
          <JoinPanel event={data} isFull={left === 0} />
        )}
      </aside>
    </article>
  );
}
