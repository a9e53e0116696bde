import type { Event, Participation } from "@turnout/contracts";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { useTrack } from "@turnout/tracker/react";
import { useRef } from "react";
import { api } from "../../api/client.ts";
import { useIntentKey } from "../../api/intent-key.ts";
import { refreshPagedLists } from "../../api/paged-list.ts";
import { ApiError, describeError, isApiError } from "../../api/errors.ts";
import { keys } from "../../api/queries.ts";
import { useSession } from "../../api/use-session.ts";
import { Notice } from "../../components/states.tsx";
import { useI18n } from "../../i18n/i18n.tsx";

type Intent = "join" | "leave";

/**
 * The viewer's place at the event: join, leave, join the waitlist; the live waitlist position and the moment
 * of promotion (through the user channel, see live/user-channel.tsx); the ticket once confirmed.
 */
export function JoinPanel({ event, isFull }: { event: Event; isFull: boolean }) {
  const { t, locale } = useI18n();
  const session = useSession();
  const client = useQueryClient();
  const track = useTrack();
  const userId = session.user?.id ?? "";
  const participationKey = keys.participation(event.id, userId);

  const participation = useQuery({
    queryKey: participationKey,
    queryFn: async (): Promise<Participation | null> => {
      try {
        return await api.participation.get(event.id);
      } catch (error) {
        if (isApiError(error, "participation.not_found")) return null;
        throw error;
      }
    },
    enabled: session.status === "signedIn",
  });
  const status = participation.data?.status;
  const isConfirmed = status === "confirmed";
  const ticket = useQuery({
    queryKey: keys.ticket(event.id, userId),
    queryFn: () => api.participation.ticket(event.id),
    enabled: isConfirmed,
  });

  // A double click or a retry after a lost answer sends the same key, so it never joins twice.
  const intentKey = useIntentKey();
  const keyFor = intentKey.keyFor;
  const isBusy = useRef(false);
  const change = useMutation({
    mutationFn: (intent: Intent) =>
      intent === "join"
        ? api.participation.join(event.id, keyFor(intent))
        : api.participation.leave(event.id, keyFor(intent)),
    onSuccess: (result, intent) => {
      intentKey.settle();
      client.setQueryData(participationKey, result);
      void client.invalidateQueries({ queryKey: keys.stats(event.id) });
      void refreshPagedLists(client, { queryKey: keys.myParticipations });
      if (intent === "join") track("joined", { eventId: event.id, status: result.status });
    },
    onError: (error) => {
      intentKey.settle(error);
      // Filled or closed since the page last heard: show the seats and the event as they are now, even when
      // the live update is slow to arrive.
      if (isApiError(error, "event.full") || isApiError(error, "event.closed"))
        void client.invalidateQueries({ queryKey: keys.event(event.id) });
    },
  });

  if (event.status === "cancelled" || event.ended) return null;
  if (session.status !== "signedIn")
    return (
      <section className="card">
        <Link to="/me" search={{ next: `/events/${event.id}` }} className="btn-primary block text-center">
          {t.signInToJoin}
        </Link>
      </section>
    );
  if (participation.isPending) return <section className="card text-gray-600">{t.loading}</section>;

  const isWaitlisted = status === "waitlisted";
  const canJoin = status === undefined || status === "cancelled";
  const isWaitlistClosed = event.waitlistLimit === 0;
  const onClick = (intent: Intent) => {
    // A ref, not isPending: the second click of a double click arrives before React re-renders the button.
    if (isBusy.current) return;
    isBusy.current = true;
    if (intent === "join") track("join_clicked", { eventId: event.id });
    change.mutate(intent, {
      onSettled: () => {
        isBusy.current = false;
      },
    });
  };

  return (
    <section className="card flex flex-col gap-3">
      {/* Only the viewer's standing is live (the promotion, the moving waitlist place), not the buttons or
          the ticket; the region stays in the page so a change within it is announced. */}
      <div role="status" data-testid="join-status">
        {isConfirmed && <p className="text-2xl font-bold text-green-800">{t.youreIn}</p>}
        {isWaitlisted && participation.data?.waitlistPosition != null && (
          <p className="text-lg font-semibold text-amber-900">
            {t.waitlistPosition(t.ordinal(participation.data.waitlistPosition, locale))}
          </p>
        )}
        {(status === "removed" || status === "event_cancelled") && (
          <p className="text-gray-800">{t.participationStatus[status]}</p>
        )}
      </div>
      {isConfirmed && event.onlineUrl !== null && (
        <a
          href={event.onlineUrl}
          className="text-indigo-800 underline"
          rel="noopener noreferrer"
          target="_blank"
        >
          {t.onlineLink}
        </a>
      )}
      {!isConfirmed && event.onlineUrl !== null && (
        <p className="text-sm text-gray-700">{t.onlineForGuests}</p>
      )}

      {canJoin && !(isFull && isWaitlistClosed) && (
        <button
          type="button"
          className="btn-primary"
          disabled={change.isPending}
          onClick={() => {
            onClick("join");
          }}
        >
          {isFull ? t.joinWaitlist : t.join}
        </button>
      )}
      {(isConfirmed || isWaitlisted) && (
        <button
          type="button"
          className="btn-secondary"
          disabled={change.isPending}
          onClick={() => {
            onClick("leave");
          }}
        >
          {isWaitlisted ? t.leaveWaitlist : t.leave}
        </button>
      )}
      {change.isError && <Notice tone="bad">{describeRefusal(change.error, t)}</Notice>}

      {isConfirmed && ticket.data !== undefined && (
        <figure
          className="mt-2 flex flex-col items-center gap-2 rounded-xl bg-gray-50 p-4"
          data-testid="ticket"
        >
          <img
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(ticket.data.qrSvg)}`}
            alt={t.ticketQr}
            className="size-48 bg-white"
          />
          <figcaption className="text-center text-sm text-gray-700">
            <strong className="block text-gray-900">{t.ticket}</strong>
            {t.ticketHint}
          </figcaption>
        </figure>
      )}
    </section>
  );
}

function describeRefusal(error: Error, t: ReturnType<typeof useI18n>["t"]): string {
  if (!(error instanceof ApiError)) return t.errorNetwork;
  const known: Partial<Record<ApiError["code"], string>> = {
    "event.full": t.eventFull,
    "event.closed": t.eventClosed,
    "join.forbidden": t.joinForbidden,
    network: t.errorNetwork,
  };
  return known[error.code] ?? describeError(error, t);
}
