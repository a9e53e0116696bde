import { hasRole } from "../auth/index.ts";
import type { AuthUser } from "../auth/index.ts";
import type { AdmissionRecord } from "./admissions.repo.ts";

// The events module's rule (its event-access.ts) read off the admission row, which carries the two facts it
// needs, so participation decides without asking events (ADR 0011: participation imports nothing from events).

/** The organizer, moderators and admins manage an event's participants (remove, list, check in). */
export function canManageAdmission(actor: AuthUser | null, admission: AdmissionRecord): boolean {
  if (actor === null) return false;
  return actor.id === admission.organizerId || hasRole(actor.role, "moderator");
}

/** A draft's admission is visible only to those who may manage it, like the draft itself. */
export function canSeeAdmission(actor: AuthUser | null, admission: AdmissionRecord): boolean {
  return admission.state !== "draft" || canManageAdmission(actor, admission);
}
