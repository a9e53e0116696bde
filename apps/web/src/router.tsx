import { createRootRoute, createRoute, createRouter, lazyRouteComponent } from "@tanstack/react-router";
import { Layout } from "./components/layout.tsx";
import { NotFound } from "./routes/not-found.tsx";

/*
 * The route tree. Each page is its own folder under routes/ and its own chunk (loaded on first visit), so the
 * first page carries only what it shows. The organizer's live room joins here later as one more
 * createRoute(...) line (/events/$id/live), and further admin pages beside /admin/mail.
 */

export type DiscoverWhen = "any" | "today" | "week" | "month";
export interface DiscoverSearch {
  q?: string;
  category?: string;
  when?: DiscoverWhen;
}

const rootRoute = createRootRoute({ component: Layout, notFoundComponent: NotFound });

const discoverRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/",
  validateSearch: (search: Record<string, unknown>): DiscoverSearch => ({
    q: typeof search.q === "string" && search.q !== "" ? search.q : undefined,
    category: typeof search.category === "string" ? search.category : undefined,
    when: ["today", "week", "month"].includes(String(search.when))
      ? (search.when as DiscoverWhen)
      : undefined,
  }),
  component: lazyRouteComponent(() => import("./routes/discover/discover-page.tsx"), "DiscoverPage"),
});

const createEventRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/events/new",
  component: lazyRouteComponent(() => import("./routes/event-form/event-form-page.tsx"), "CreateEventPage"),
});

const eventRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/events/$id",
  component: lazyRouteComponent(() => import("./routes/event/event-page.tsx"), "EventPage"),
});

const editEventRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/events/$id/edit",
  validateSearch: (search: Record<string, unknown>): { saved?: boolean } => ({
    saved: search.saved === true || search.saved === "true" ? true : undefined,
  }),
  component: lazyRouteComponent(() => import("./routes/event-form/event-form-page.tsx"), "EditEventPage"),
});

const manageEventRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/events/$id/manage",
  component: lazyRouteComponent(() => import("./routes/manage/manage-page.tsx"), "ManagePage"),
});

const meRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/me",
  validateSearch: (search: Record<string, unknown>): { next?: string } => ({
    // Only paths of this app: an absolute URL here would make the sign-in form an open redirect.
    next: typeof search.next === "string" && /^\/(?!\/)/.test(search.next) ? search.next : undefined,
  }),
  component: lazyRouteComponent(() => import("./routes/me/me-page.tsx"), "MePage"),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const adminMailRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/admin/mail",
  validateSearch: (search: Record<string, unknown>): { open?: string } => ({
    open: typeof search.open === "string" && UUID.test(search.open) ? search.open : undefined,
  }),
  component: lazyRouteComponent(() => import("./routes/admin-mail/admin-mail-page.tsx"), "AdminMailPage"),
});

const routeTree = rootRoute.addChildren([
  discoverRoute,
  createEventRoute,
  eventRoute,
  editEventRoute,
  manageEventRoute,
  meRoute,
  adminMailRoute,
]);

export const router = createRouter({ routeTree, defaultPreload: "intent", scrollRestoration: true });

declare module "@tanstack/react-router" {
  interface Register {
    router: typeof router;
  }
}
