// The events module's only door: other modules and roles import from here, never its files.
// Events, their lifecycle, the feed and calendars; who may see or manage an event.
export { registerCalendarRoutes } from "./calendar.routes.ts";
export { canManageEvent, canSeeEvent } from "./event-access.ts";
export { createEventReadCaches, registerEventRoutes } from "./events.routes.ts";
export {
  cancelEvent,
  createEvent,
  findEventAdmission,
  findEventsByIds,
  publishEvent,
  setEventCounters,
} from "./events.service.ts";
export type { AdmissionRecord, EventHooks } from "./events.service.ts";
export { listEventsStartingBetween } from "./starting-events.ts";
