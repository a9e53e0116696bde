import { page } from "@turnout/tracker";
import { Link, Outlet, useRouterState } from "@tanstack/react-router";
import { useEffect, useState } from "react";
import { useSession } from "../api/use-session.ts";
import { LOCALES, type Locale, useI18n } from "../i18n/i18n.tsx";
import { useConnectionState } from "../live/realtime.tsx";
import { UserChannel } from "../live/user-channel.tsx";

/** The frame of every page: header with navigation and language, the live indicator, the page, a footer. */
export function Layout() {
  const { t, locale, setLocale } = useI18n();
  const session = useSession();
  const path = useRouterState({ select: (state) => state.location.pathname });
  useEffect(() => {
    // An event page's view names the event, so its organizer's analytics (filtered by eventId) count it.
    const eventId = /^\/events\/([0-9a-f-]{36})$/.exec(path)?.[1];
    page(eventId === undefined ? undefined : { eventId });
  }, [path]);

  return (
    <div className="flex min-h-screen flex-col bg-gray-50 text-gray-900">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2"
      >
        {t.skipToContent}
      </a>
      <header className="border-b border-gray-200 bg-white">
        <div className="mx-auto flex max-w-5xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3">
          <Link to="/" className="flex items-center gap-2 text-lg font-bold tracking-tight">
            <span className="size-7 rounded-lg bg-indigo-600" aria-hidden="true" />
            {t.appName}
          </Link>
          <nav
            aria-label={t.navMain}
            className="order-last flex w-full items-center gap-1 text-sm sm:order-none sm:w-auto sm:flex-1"
          >
            <NavLink to="/">{t.navDiscover}</NavLink>
            <NavLink to="/events/new">{t.navCreate}</NavLink>
            <NavLink to="/me">{session.status === "signedIn" ? t.navMe : t.navSignIn}</NavLink>
            {session.user?.role === "admin" && <NavLink to="/admin/mail">{t.navAdminMail}</NavLink>}
          </nav>
          <label className="ml-auto flex items-center gap-2 text-sm text-gray-700">
            <span className="sr-only">{t.language}</span>
            <select
              value={locale}
              onChange={(event) => {
                setLocale(event.target.value as Locale);
              }}
              className="rounded-md border border-gray-300 bg-white px-2 py-1"
            >
              {LOCALES.map((code) => (
                <option key={code} value={code}>
                  {code === "en" ? "English" : "Deutsch"}
                </option>
              ))}
            </select>
          </label>
        </div>
      </header>
      <ReconnectingBanner />
      {session.status === "signedIn" && <UserChannel userId={session.user.id} />}
      <main id="main" className="mx-auto w-full max-w-5xl flex-1 px-4 py-6 sm:py-10">
        <Outlet />
      </main>
      <footer className="px-4 py-6 text-center text-sm text-gray-600">{t.footer}</footer>
    </div>
  );
}

function NavLink({ to, children }: { to: "/" | "/events/new" | "/me" | "/admin/mail"; children: string }) {
  return (
    <Link
      to={to}
      activeOptions={{ exact: true }}
      className="rounded-md px-3 py-2 text-gray-700 hover:bg-gray-100 aria-[current=page]:bg-indigo-50 aria-[current=page]:font-semibold aria-[current=page]:text-indigo-800"
    >
      {children}
    </Link>
  );
}

// A dropped live channel shows after a short grace period, so a quick reconnect does not flash.
const GRACE_MS = 1_500;

function ReconnectingBanner() {
  const { t } = useI18n();
  const state = useConnectionState();
  const [isOverdue, setOverdue] = useState(false);
  useEffect(() => {
    if (state !== "reconnecting") return;
    const timer = setTimeout(() => {
      setOverdue(true);
    }, GRACE_MS);
    return () => {
      clearTimeout(timer);
      setOverdue(false);
    };
  }, [state]);
  const isShown = state === "reconnecting" && isOverdue;
  return (
    <div role="status" aria-live="polite" className={isShown ? "bg-amber-100 text-amber-950" : "sr-only"}>
      {isShown && (
        <p className="mx-auto flex max-w-5xl items-center gap-2 px-4 py-2 text-sm" data-testid="reconnecting">
          <span
            className="size-2 animate-pulse rounded-full bg-amber-600 motion-reduce:animate-none"
            aria-hidden="true"
          />
          {t.reconnecting}
        </p>
      )}
    </div>
  );
}
