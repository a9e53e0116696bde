import type { Participant } from "@turnout/contracts";
import { statsChangedDataSchema } from "@turnout/contracts";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { getRouteApi, Link } from "@tanstack/react-router";
import { useEffect, useRef, useState } from "react";
import { api } from "../../api/client.ts";
import { describeError } from "../../api/errors.ts";
import { useIntentKey } from "../../api/intent-key.ts";
import { eventQuery, keys, statsOf } from "../../api/queries.ts";
import { Empty, ErrorState, Loading, Notice } from "../../components/states.tsx";
import { useI18n } from "../../i18n/i18n.tsx";
import { useChannel } from "../../live/realtime.tsx";
import { SignedInOnly } from "../../components/signed-in-only.tsx";

const route = getRouteApi("/events/$id/manage");
type ListStatus = "confirmed" | "waitlisted";

/**
 * The organizer's view of one event: confirmed guests and the waitlist in queue order, live counts, and
 * removing a person with a reason. The live room (scanner, announcements, photos, charts) joins it later.
 */
export function ManagePage() {
  const { id } = route.useParams();
  return (
    <SignedInOnly next={`/events/${id}/manage`}>
      <ManageEvent id={id} />
    </SignedInOnly>
  );
}

function ManageEvent({ id }: { id: string }) {
  const { t, formatNumber } = useI18n();
  const client = useQueryClient();
  const event = useQuery(eventQuery(id));
  const stats = useQuery({
    queryKey: keys.stats(id),
    queryFn: () => api.events.stats(id),
    enabled: event.data?.status === "published",
  });

  // Any change of the counters means someone joined, left or moved up: refetch both lists.
  useChannel(
    `event:${id}`,
    (message) => {
      if (message.type !== "stats.changed.v1") return;
      const parsed = statsChangedDataSchema.safeParse(message.data);
      if (!parsed.success) return;
      client.setQueryData(keys.stats(id), statsOf(parsed.data));
      void client.invalidateQueries({ queryKey: keys.allParticipants(id) });
    },
    () => {
      void client.invalidateQueries({ queryKey: keys.event(id) });
    },
  );

  if (event.isPending) return <Loading />;
  if (event.isError) return <ErrorState error={event.error} onRetry={() => void event.refetch()} />;
  const counts = stats.data ?? { ...event.data.stats, capacity: event.data.capacity };

  return (
    <section aria-labelledby="manage-title">
      <Link to="/events/$id" params={{ id }} className="text-sm text-indigo-800 underline">
        ← {event.data.title}
      </Link>
      <h1 id="manage-title" className="mt-2 break-words text-3xl font-bold tracking-tight">
        {t.manageTitle(event.data.title)}
      </h1>
      <p className="mt-2 flex flex-wrap gap-x-4 text-gray-700" aria-live="polite" data-testid="manage-counts">
        <span>
          {t.going(formatNumber(counts.confirmed))}
          {counts.capacity !== null && ` / ${formatNumber(counts.capacity)}`}
        </span>
        <span>{t.waitlistLength(formatNumber(counts.waitlisted))}</span>
        <span>{t.checkedIn(formatNumber(counts.checkedIn))}</span>
      </p>
      <div className="mt-6 grid gap-6 md:grid-cols-2">
        <ParticipantList eventId={id} status="confirmed" title={t.confirmedGuests} />
        <ParticipantList eventId={id} status="waitlisted" title={t.waitlist} />
      </div>
    </section>
  );
}

function ParticipantList({ eventId, status, title }: { eventId: string; status: ListStatus; title: string }) {
  const { t } = useI18n();
  const list = useQuery({
    queryKey: keys.participants(eventId, status),
    queryFn: () => api.participation.participants(eventId, status),
  });
  const headingId = `list-${status}`;
  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId} className="text-lg font-semibold">
        {title}
      </h2>
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.items.length === 0 ? (
        <div className="mt-3">
          <Empty>{t.nobodyYet}</Empty>
        </div>
      ) : (
        <ol className="mt-3 divide-y divide-gray-200">
          {list.data.items.map((participant) => (
            <ParticipantRow key={participant.userId} eventId={eventId} participant={participant} />
          ))}
        </ol>
      )}
    </section>
  );
}

function ParticipantRow({ eventId, participant }: { eventId: string; participant: Participant }) {
  const { t, formatDateTime } = useI18n();
  const client = useQueryClient();
  const [isAsking, setAsking] = useState(false);
  const [reason, setReason] = useState("");
  const intentKey = useIntentKey();
  const remove = useMutation({
    mutationFn: () =>
      api.participation.remove(eventId, participant.userId, reason.trim(), intentKey.keyFor(reason.trim())),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.event(eventId) });
    },
    onSettled: (_data, error) => {
      intentKey.settle(error ?? undefined);
    },
  });
  const reasonId = `reason-${participant.userId}`;
  // The keyboard goes on where the click was: into the reason, and back to "Remove" when kept.
  const reasonInput = useRef<HTMLInputElement>(null);
  const removeButton = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);
  useEffect(() => {
    if (isAsking) reasonInput.current?.focus();
    else if (wasAsking.current) removeButton.current?.focus();
    wasAsking.current = isAsking;
  }, [isAsking]);
  return (
    <li className="flex flex-col gap-2 py-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div>
          <p className="font-medium">
            {participant.waitlistPosition !== null && (
              <span className="mr-2 text-gray-600">{participant.waitlistPosition}.</span>
            )}
            {participant.user.name}
          </p>
          <p className="text-sm text-gray-600">{t.joinedAt(formatDateTime(participant.joinedAt))}</p>
        </div>
        {!isAsking && (
          <button
            ref={removeButton}
            type="button"
            className="btn-secondary text-sm"
            onClick={() => {
              setAsking(true);
            }}
          >
            {t.remove}
            <span className="sr-only"> {participant.user.name}</span>
          </button>
        )}
      </div>
      {isAsking && (
        <form
          className="flex flex-col gap-2 sm:flex-row sm:items-end"
          onSubmit={(event) => {
            event.preventDefault();
            remove.mutate();
          }}
        >
          <div className="flex-1">
            <label htmlFor={reasonId} className="text-sm font-semibold text-gray-800">
              {t.removeReason}
            </label>
            <input
              ref={reasonInput}
              id={reasonId}
              className="input"
              value={reason}
              onChange={(e) => {
                setReason(e.target.value);
              }}
            />
          </div>
          <button type="submit" className="btn-danger" disabled={remove.isPending}>
            {t.removeConfirm(participant.user.name)}
          </button>
          <button
            type="button"
            className="btn-secondary"
            onClick={() => {
              setAsking(false);
              remove.reset();
            }}
          >
            {t.keep}
          </button>
        </form>
      )}
      {remove.isError && <Notice tone="bad">{describeError(remove.error, t)}</Notice>}
    </li>
  );
}
