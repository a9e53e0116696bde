import type { FastifyPluginCallback } from "fastify";
import type { Deps } from "../../deps.ts";
import { registerCalendarRoutes } from "./calendar.routes.ts";
import { type EventReadCaches, registerEventRoutes } from "./events.routes.ts";
import { registerMyParticipationRoutes } from "./my-participations.routes.ts";

export interface EventRoutesOptions {
  deps: Deps;
  /** The public pages served from memory; the role also points participation's changes at `pages`. */
  caches: EventReadCaches;
}

/** The events routes: create, read, edit, publish, cancel and delete, the feed, the organizer's own list. */
export const eventRoutes: FastifyPluginCallback<EventRoutesOptions> = (app, options, done) => {
  registerEventRoutes(app, options.deps, options.caches);
  done();
};

export interface ParticipantEventRoutesOptions {
  deps: Deps;
}

/**
 * Events as a participant finds them: their participations each with its event (participation's list
 * composed with events), and the calendar exports. Registered after participation's routes, as in the
 * OpenAPI document.
 */
export const participantEventRoutes: FastifyPluginCallback<ParticipantEventRoutesOptions> = (
  app,
  options,
  done,
) => {
  registerMyParticipationRoutes(app, options.deps);
  registerCalendarRoutes(app, options.deps);
  done();
};
