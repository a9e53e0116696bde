import type { EventStatus } from "@turnout/contracts";
import { hasRole } from "../auth/index.ts";
import type { AuthUser } from "../auth/index.ts";

interface Ownable {
  status: EventStatus;
  organizerId: string;
}

/** Organizer, moderators and admins may edit, publish, cancel and delete an event. */
export function canManageEvent(actor: AuthUser | null, event: Ownable): boolean {
  if (actor === null) return false;
  return actor.id === event.organizerId || hasRole(actor.role, "moderator");
}

/** Drafts are visible only to those who may manage them; published and cancelled events to anyone with the id. */
export function canSeeEvent(actor: AuthUser | null, event: Ownable): boolean {
  return event.status !== "draft" || canManageEvent(actor, event);
}

/** An event has ended once its end time has passed. */
export function hasEnded(event: { endsAt: Date }, now: Date): boolean {
  return event.endsAt.getTime() <= now.getTime();
}
