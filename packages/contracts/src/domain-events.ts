import { z } from "zod";

/*
 * Domain events: what the outbox relay publishes on the bus after a command's transaction commits.
 * Each bus message carries one envelope as its data, and the message id equals the envelope id.
 */

/** The durable stream that captures every domain event. */
export const DOMAIN_STREAM = "DOMAIN";
/** Domain events travel on `domain.<type>`, e.g. `domain.event.published.v1`. */
export const DOMAIN_SUBJECT_PREFIX = "domain";
export const DOMAIN_SUBJECTS = [`${DOMAIN_SUBJECT_PREFIX}.>`];

/** Versioned dotted names: lowercase tokens ending in `.v<N>` (`event.published.v1`). */
export const domainEventTypeSchema = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.v[1-9][0-9]*$/);

export const domainEventSchema = z.object({
  /** The outbox id, as a string: the key consumers deduplicate on. */
  id: z.string().regex(/^[0-9]+$/),
  type: domainEventTypeSchema,
  aggregateType: z.string().min(1),
  aggregateId: z.string().min(1),
  /** When the writing transaction ran (ISO 8601). */
  occurredAt: z.iso.datetime({ offset: true }),
  data: z.unknown(),
});
export type DomainEvent = z.infer<typeof domainEventSchema>;

/** The bus subject a domain event of `type` is published on. */
export function domainSubject(type: string, prefix: string = DOMAIN_SUBJECT_PREFIX): string {
  return `${prefix}.${type}`;
}
