// The events module's only door: other modules and roles import from here, never its files.
// Events, their lifecycle, the feed and calendars; who may see or manage an event.
export { canManageEvent, canSeeEvent } from "./event-access.ts";
export { eventRoutes, participantEventRoutes } from "./events.plugin.ts";
export type { EventRoutesOptions, ParticipantEventRoutesOptions } from "./events.plugin.ts";
export { createEventReadCaches } from "./events.routes.ts";
export type { EventReadCaches } from "./events.routes.ts";
export {
  cancelEvent,
  createEvent,
  findEventAccess,
  findEventsByIds,
  publishEvent,
} from "./events.service.ts";
export type { EventAccess } from "./events.service.ts";
export { listEventsStartingBetween } from "./starting-events.ts";
