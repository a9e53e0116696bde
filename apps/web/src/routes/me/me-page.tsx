import { useMutation, useQuery } from "@tanstack/react-query";
import { getRouteApi, Link, useNavigate } from "@tanstack/react-router";
import { type SyntheticEvent, useState } from "react";
import { api } from "../../api/client.ts";
import { ApiError, describeError } from "../../api/errors.ts";
import { useIntentKey } from "../../api/intent-key.ts";
import { usePagedList } from "../../api/paged-list.ts";
import { keys } from "../../api/queries.ts";
import { updateSessionUser } from "../../api/session.ts";
import { useSession } from "../../api/use-session.ts";
import { EventCard } from "../../components/event-card.tsx";
import { Field } from "../../components/field.tsx";
import { LoadMore } from "../../components/load-more.tsx";
import { Empty, ErrorState, Loading, Notice } from "../../components/states.tsx";
import { useI18n } from "../../i18n/i18n.tsx";
import { AuthForms } from "./auth-forms.tsx";

const route = getRouteApi("/me");

/** The signed-in person's page (events, participations, calendar feed), or the sign-in form. */
export function MePage() {
  const session = useSession();
  const { next } = route.useSearch();
  const navigate = useNavigate();
  if (session.status === "loading") return <Loading />;
  if (session.status === "signedOut")
    return (
      <AuthForms
        onSignedIn={() => {
          if (next !== undefined) void navigate({ to: next });
        }}
      />
    );
  return <Account name={session.user.name} email={session.user.email} />;
}

function Account({ name, email }: { name: string; email: string }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const signOut = useMutation({
    mutationFn: () => api.auth.logout(),
    onSettled: () => void navigate({ to: "/" }),
  });
  return (
    <div className="flex flex-col gap-10">
      <section aria-labelledby="me-title" className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 id="me-title" className="text-3xl font-bold tracking-tight">
            {name}
          </h1>
          <p className="mt-1 text-gray-700">{t.signedInAs(name, email)}</p>
        </div>
        <button
          type="button"
          className="btn-secondary"
          disabled={signOut.isPending}
          onClick={() => {
            signOut.mutate();
          }}
        >
          {t.signOut}
        </button>
      </section>
      <NameForm name={name} />
      <CalendarFeed />
      <MyEvents />
      <MyParticipations />
    </div>
  );
}

/** The account's display name (PATCH /api/me); the header and this page show the new one at once. */
function NameForm({ name }: { name: string }) {
  const { t } = useI18n();
  const [text, setText] = useState(name);
  const intentKey = useIntentKey();
  const save = useMutation({
    mutationFn: () => api.me.update({ name: text }, intentKey.keyFor(text)),
    onSuccess: (user) => {
      intentKey.settle();
      updateSessionUser(user);
      setText(user.name);
    },
    onError: (error) => {
      intentKey.settle(error);
    },
  });
  // The API's message for the name, or what else refused it (the network, a rate limit) on the one field.
  const error =
    save.error === null
      ? undefined
      : save.error instanceof ApiError && save.error.code !== "network"
        ? (save.error.fieldErrors().name ?? describeError(save.error, t))
        : t.errorNetwork;
  const onSubmit = (event: SyntheticEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <section aria-labelledby="name-title" className="card">
      <h2 id="name-title" className="text-lg font-semibold">
        {t.changeName}
      </h2>
      <form noValidate onSubmit={onSubmit} className="mt-3 flex flex-col gap-3 sm:flex-row sm:items-start">
        <div className="flex-1">
          <Field id="account-name" label={t.name} error={error}>
            {(props) => (
              <input
                {...props}
                autoComplete="name"
                className="input"
                value={text}
                onChange={(event) => {
                  setText(event.target.value);
                  save.reset();
                }}
              />
            )}
          </Field>
        </div>
        <button type="submit" className="btn-primary sm:mt-6" disabled={save.isPending}>
          {save.isPending ? t.saving : t.saveName}
        </button>
      </form>
      {save.isSuccess && (
        <div className="mt-3">
          <Notice tone="ok">{t.nameSaved}</Notice>
        </div>
      )}
    </section>
  );
}

function CalendarFeed() {
  const { t } = useI18n();
  const feed = useQuery({
    queryKey: keys.calendarUrl,
    queryFn: () => api.me.calendarUrl(),
    staleTime: Infinity,
  });
  const [isCopied, setCopied] = useState(false);
  return (
    <section aria-labelledby="calendar-title" className="card">
      <h2 id="calendar-title" className="text-lg font-semibold">
        {t.calendarFeed}
      </h2>
      <p className="mt-1 text-sm text-gray-700">{t.calendarFeedHint}</p>
      {feed.isPending ? (
        <Loading />
      ) : feed.isError ? (
        <ErrorState error={feed.error} onRetry={() => void feed.refetch()} />
      ) : (
        <div className="mt-3 flex flex-col gap-2 sm:flex-row">
          <label htmlFor="calendar-url" className="sr-only">
            {t.calendarFeed}
          </label>
          <input
            id="calendar-url"
            readOnly
            className="input font-mono text-sm"
            value={feed.data.url}
            onFocus={(e) => {
              e.target.select();
            }}
          />
          <button
            type="button"
            className="btn-secondary"
            onClick={() => {
              copyText(feed.data.url, "calendar-url").then(setCopied, () => {
                setCopied(false);
              });
            }}
          >
            {isCopied ? t.copied : t.copy}
          </button>
        </div>
      )}
    </section>
  );
}

/**
 * Copies `text` to the clipboard. `navigator.clipboard` exists only in secure contexts, and a self-hosted
 * instance may run on plain http in a local network: there the field's text is selected for the person to copy.
 */
async function copyText(text: string, fieldId: string): Promise<boolean> {
  if (window.isSecureContext && "clipboard" in navigator) {
    await navigator.clipboard.writeText(text);
    return true;
  }
  const field = document.getElementById(fieldId);
  if (field instanceof HTMLInputElement) {
    field.focus();
    field.select();
  }
  return false;
}

function MyEvents() {
  const { t } = useI18n();
  const events = usePagedList(keys.myEvents, (cursor) => api.me.events(cursor));
  const items = events.items;
  return (
    <section aria-labelledby="my-events-title">
      <div className="flex items-baseline justify-between gap-3">
        <h2 id="my-events-title" className="text-xl font-semibold">
          {t.myEvents}
        </h2>
        <Link to="/events/new" className="text-indigo-800 underline">
          {t.navCreate}
        </Link>
      </div>
      <div className="mt-3">
        {events.isPending ? (
          <Loading />
        ) : events.error !== null ? (
          <ErrorState error={events.error} onRetry={() => void events.refresh()} />
        ) : items.length === 0 ? (
          <>
            <Empty>{t.noMyEvents}</Empty>
            <LoadMore list={events} />
          </>
        ) : (
          <>
            <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
              {items.map((event) => (
                <li key={event.id} className="relative">
                  <EventCard event={event} />
                </li>
              ))}
            </ul>
            <LoadMore list={events} />
          </>
        )}
      </div>
    </section>
  );
}

function MyParticipations() {
  const { t } = useI18n();
  // One list, latest join first, split by time: "Load more" below both groups fills either.
  const list = usePagedList(keys.myParticipations, (cursor) => api.me.participations(cursor));
  const [now] = useState(Date.now);
  if (list.isPending) return <Loading />;
  if (list.error !== null) return <ErrorState error={list.error} onRetry={() => void list.refresh()} />;
  const items = list.items;
  const upcoming = items.filter((item) => Date.parse(item.event.endsAt) > now);
  const past = items.filter((item) => Date.parse(item.event.endsAt) <= now);
  return (
    <>
      {[
        { id: "upcoming", title: t.upcoming, items: upcoming },
        { id: "past", title: t.past, items: past },
      ].map((group) => (
        <section key={group.id} aria-labelledby={`${group.id}-title`}>
          <h2 id={`${group.id}-title`} className="text-xl font-semibold">
            {group.title}
          </h2>
          <div className="mt-3">
            {group.items.length === 0 ? (
              <Empty>{t.noParticipations}</Empty>
            ) : (
              <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
                {group.items.map((item) => (
                  <li key={item.event.id} className="relative flex flex-col gap-1">
                    <EventCard event={item.event} />
                    <p className="text-sm font-medium text-gray-700">{t.participationStatus[item.status]}</p>
                  </li>
                ))}
              </ul>
            )}
          </div>
        </section>
      ))}
      <LoadMore list={list} />
    </>
  );
}
