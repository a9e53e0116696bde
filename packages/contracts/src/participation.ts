import { z } from "zod";
import { cursorSchema, eventSchema, limitSchema } from "./events.ts";

/*
 * Participation (API.md "Participation"): a person's place at an event, the lists an organizer reads, the
 * counters, tickets and check-in, and the domain events every change writes to the outbox.
 */

export const PARTICIPATION_STATUSES = [
  "confirmed",
  "waitlisted",
  "cancelled",
  "removed",
  "event_cancelled",
] as const;
export const participationStatusSchema = z.enum(PARTICIPATION_STATUSES);
export type ParticipationStatus = z.infer<typeof participationStatusSchema>;

export const participationSchema = z.object({
  eventId: z.uuid(),
  userId: z.uuid(),
  status: participationStatusSchema,
  /** 1 = next in line; null unless waitlisted. */
  waitlistPosition: z.number().int().min(1).nullable(),
  joinedAt: z.iso.datetime(),
  confirmedAt: z.iso.datetime().optional(),
  checkedInAt: z.iso.datetime().optional(),
});
export type Participation = z.infer<typeof participationSchema>;

/** An entry of an organizer's participant list. */
export const participantSchema = participationSchema.extend({
  user: z.object({ id: z.uuid(), name: z.string() }),
});
export type Participant = z.infer<typeof participantSchema>;

export const participantPageSchema = z.object({
  items: z.array(participantSchema),
  nextCursor: z.string().nullable(),
});
export type ParticipantPage = z.infer<typeof participantPageSchema>;

/** GET /api/events/:id/participants: confirmed (join order) or waitlisted (queue order). */
export const participantsQuerySchema = z.object({
  status: z.enum(["confirmed", "waitlisted"]).default("confirmed"),
  cursor: cursorSchema.optional(),
  limit: limitSchema,
});
export type ParticipantsQuery = z.infer<typeof participantsQuerySchema>;

export const removeParticipantParamsSchema = z.object({ id: z.uuid(), userId: z.uuid() });
export const removeParticipantQuerySchema = z.object({ reason: z.string().trim().max(1000).optional() });

/** GET /api/me/participations: the caller's participations with their events, latest join first. */
export const myParticipationsQuerySchema = z.object({
  status: participationStatusSchema.optional(),
  cursor: cursorSchema.optional(),
  limit: limitSchema,
});
export type MyParticipationsQuery = z.infer<typeof myParticipationsQuerySchema>;

export const myParticipationSchema = participationSchema.extend({ event: eventSchema });
export const myParticipationPageSchema = z.object({
  items: z.array(myParticipationSchema),
  nextCursor: z.string().nullable(),
});
export type MyParticipationPage = z.infer<typeof myParticipationPageSchema>;

/** GET /api/events/:id/stats; the counters always equal the participant lists. */
export const eventStatsSchema = z.object({
  capacity: z.number().int().nullable(),
  confirmed: z.number().int(),
  waitlisted: z.number().int(),
  checkedIn: z.number().int(),
});
export type EventStats = z.infer<typeof eventStatsSchema>;

export const ticketSchema = z.object({
  /** Signed; names the event and the user. */
  code: z.string(),
  /** The code as a QR code, an SVG document. */
  qrSvg: z.string(),
});
export type Ticket = z.infer<typeof ticketSchema>;

export const checkInBodySchema = z.object({ code: z.string().min(1).max(1000) });
export const checkInResultSchema = z.object({
  participation: participationSchema,
  alreadyCheckedIn: z.boolean(),
});
export type CheckInResult = z.infer<typeof checkInResultSchema>;

/** Data of `stats.changed.v1` (event channel). */
export const statsChangedDataSchema = eventStatsSchema.extend({ eventId: z.uuid() });
export type StatsChangedData = z.infer<typeof statsChangedDataSchema>;

/** Data of `participation.changed.v1` (the person's channel). */
export const participationChangedDataSchema = z.object({
  eventId: z.uuid(),
  userId: z.uuid(),
  status: participationStatusSchema,
  waitlistPosition: z.number().int().min(1).nullable(),
  /**
   * What moved it: a join, a cancel, a promotion from the waitlist, a removal, the event's cancellation; or
   * "moved": only the waitlist position changed, as people ahead left (pushed by the realtime module, ADR 0014).
   */
  cause: z.enum(["joined", "cancelled", "promoted", "removed", "event_cancelled", "moved"]),
});
export type ParticipationChangedData = z.infer<typeof participationChangedDataSchema>;

export const PARTICIPATION_DOMAIN_EVENTS = {
  statsChanged: "stats.changed.v1",
  participationChanged: "participation.changed.v1",
} as const;
