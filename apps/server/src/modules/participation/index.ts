// The participation module's only door: other modules and roles import from here, never its files.
// Joining, the waitlist, tickets and participant lists, and each event's admission (ADR 0011): the
// `admissions` table is participation's, and the events module writes it only through the functions below.
export { createAdmissionQueue } from "./admission.ts";
export type { AdmissionCounters, AdmissionTerms } from "./admissions.repo.ts";
export {
  closeAdmission,
  countAdmissions,
  createAdmission,
  openAdmission,
  updateAdmission,
} from "./admissions.service.ts";
export { consumeEventCancellations } from "./event-cancelled.consumer.ts";
export { listMyParticipations } from "./participant-lists.service.ts";
export { participationRoutes } from "./participation.plugin.ts";
export type { ParticipationRoutesOptions } from "./participation.plugin.ts";
export { listConfirmedEventIds } from "./participation.service.ts";
export { findParticipationStatus, listParticipantIds } from "./participant-queries.ts";
export { listWaitlistPositions } from "./waitlist-positions.ts";
