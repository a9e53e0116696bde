import {
  PARTICIPATION_DOMAIN_EVENTS,
  type ParticipationChangedData,
  type StatsChangedData,
} from "@turnout/contracts";
import type { OutboxEntry } from "../../platform/outbox/outbox.ts";
import type { ParticipationRecord } from "./participation.repo.ts";

// The outbox messages of participation changes. Both go on the event's aggregate: every change to one
// event's participations holds its row lock, so their outbox order is the order they happened in.

/** `participation.changed.v1`, for the person's own channel. */
export function participationChanged(
  record: ParticipationRecord,
  waitlistPosition: number | null,
  cause: ParticipationChangedData["cause"],
): OutboxEntry {
  const data: ParticipationChangedData = {
    eventId: record.eventId,
    userId: record.userId,
    status: record.status,
    waitlistPosition: record.status === "waitlisted" ? waitlistPosition : null,
    cause,
  };
  return {
    aggregateType: "event",
    aggregateId: record.eventId,
    type: PARTICIPATION_DOMAIN_EVENTS.participationChanged,
    data,
  };
}

/** `stats.changed.v1`, for the event's channel. */
export function statsChanged(
  eventId: string,
  capacity: number | null,
  counters: { confirmed: number; waitlisted: number; checkedIn: number },
): OutboxEntry {
  const data: StatsChangedData = { eventId, capacity, ...counters };
  return {
    aggregateType: "event",
    aggregateId: eventId,
    type: PARTICIPATION_DOMAIN_EVENTS.statsChanged,
    data,
  };
}
