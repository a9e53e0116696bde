import type { CheckInResult, Ticket } from "@turnout/contracts";
import QRCode from "qrcode";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../platform/errors.ts";
import { appendOutboxMany } from "../../platform/outbox/outbox.ts";
import type { AuthUser } from "../auth/index.ts";
import { canManageAdmission, canSeeAdmission } from "./admission-access.ts";
import { findAdmission, setCounters } from "./admissions.repo.ts";
import { statsChanged } from "./participation-messages.ts";
import * as repo from "./participation.repo.ts";
import { signTicketCode, verifyTicketCode } from "./ticket-codes.ts";
import { markCheckedIn } from "./tickets.repo.ts";

export type TicketDeps = Pick<Deps, "db" | "clock" | "secrets">;

/**
 * The caller's ticket: a signed code naming the event and the caller, and its QR code as SVG. Only a
 * confirmed participant holds one (409 ticket.unavailable otherwise); a hidden or unknown event is 404.
 */
export async function getTicket(deps: TicketDeps, actor: AuthUser, eventId: string): Promise<Ticket> {
  const admission = await findAdmission(deps.db, eventId);
  if (admission === undefined || !canSeeAdmission(actor, admission)) throw eventNotFound();
  const record = await repo.findParticipation(deps.db, eventId, actor.id);
  if (record?.status !== "confirmed") {
    throw new AppError("ticket.unavailable", "Only a confirmed participant has a ticket.");
  }
  const code = signTicketCode(deps.secrets.ticketSecret, { eventId, userId: actor.id });
  return { code, qrSvg: await QRCode.toString(code, { type: "svg" }) };
}

/**
 * The organizer (or a moderator+) scans a ticket. The first scan checks its holder in and counts them;
 * every later one answers `alreadyCheckedIn: true` and changes nothing. A code for another event, a forged
 * one, or one whose holder is no longer confirmed is 400 ticket.invalid.
 */
export async function checkIn(
  deps: TicketDeps,
  actor: AuthUser,
  eventId: string,
  code: string,
): Promise<CheckInResult> {
  const now = deps.clock.now();
  // The admission's row lock serialises this with joins and cancels, so the counter moves with the rows.
  return deps.db.transaction().execute(async (trx) => {
    const admission = await findAdmission(trx, eventId, { forUpdate: true });
    if (admission === undefined || !canSeeAdmission(actor, admission)) throw eventNotFound();
    if (!canManageAdmission(actor, admission)) {
      throw new AppError("auth.forbidden", "Only the organizer or a moderator may check people in.");
    }
    const holder = verifyTicketCode(deps.secrets.ticketSecret, code);
    if (holder === null || holder.eventId !== eventId)
      throw ticketInvalid("This is not a ticket to this event.");
    const current = await repo.findParticipation(trx, eventId, holder.userId);
    if (current?.status !== "confirmed") throw ticketInvalid("The ticket's holder no longer has a place.");
    if (current.checkedInAt !== null) {
      return { participation: repo.toParticipation(current, null), alreadyCheckedIn: true };
    }
    const checkedInAt = await markCheckedIn(trx, eventId, holder.userId, now);
    if (checkedInAt === undefined)
      throw new AppError("internal", "A confirmed place could not be checked in.");
    const counters = {
      confirmed: admission.confirmed,
      waitlisted: admission.waitlisted,
      checkedIn: admission.checkedIn + 1,
    };
    await setCounters(trx, eventId, counters);
    await appendOutboxMany(trx, [statsChanged(eventId, admission.capacity, counters)]);
    return {
      participation: repo.toParticipation({ ...current, checkedInAt }, null),
      alreadyCheckedIn: false,
    };
  });
}

function eventNotFound(): AppError {
  return new AppError("event.not_found", "No such event.");
}

function ticketInvalid(message: string): AppError {
  return new AppError("ticket.invalid", message);
}
