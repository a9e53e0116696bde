import { DOMAIN_SUBJECT_PREFIX, domainSubject, EVENT_DOMAIN_EVENTS } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import type { Subscription } from "../../platform/bus/bus.ts";
import { consumeDomainEvents, type DomainConsumerOptions } from "../../platform/outbox/inbox.ts";
import { cancelAllParticipations } from "./participation.service.ts";

export const EVENT_CANCELLED_CONSUMER = "participation-event-cancelled";

/**
 * Follows `event.cancelled.v1`: moves every confirmed and waitlisted participation of the event to
 * event_cancelled, once per message (the inbox), each person told through `participation.changed.v1`.
 */
export function consumeEventCancellations(
  deps: Pick<Deps, "db" | "bus" | "log" | "clock">,
  options: Pick<DomainConsumerOptions, "stream"> = {},
): Promise<Subscription> {
  const prefix = options.stream?.subjectPrefix ?? DOMAIN_SUBJECT_PREFIX;
  return consumeDomainEvents(
    deps,
    {
      name: EVENT_CANCELLED_CONSUMER,
      filter: domainSubject(EVENT_DOMAIN_EVENTS.cancelled, prefix),
      stream: options.stream,
    },
    (event, trx) => cancelAllParticipations(deps, trx, event.aggregateId),
  );
}
