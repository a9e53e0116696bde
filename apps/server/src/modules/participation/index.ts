// The participation module's only door: other modules and roles import from here, never its files.
// Joining, the waitlist, tickets and participant lists.
export { createAdmissionQueue } from "./admission.ts";
export { consumeEventCancellations } from "./event-cancelled.consumer.ts";
export { registerParticipantListRoutes } from "./participant-lists.routes.ts";
export { registerParticipationRoutes } from "./participation.routes.ts";
export { createEventHooks, listConfirmedEventIds } from "./participation.service.ts";
export { registerTicketRoutes } from "./tickets.routes.ts";
export { listWaitlistPositions } from "./waitlist-positions.ts";
