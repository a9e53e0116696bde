import { domainEventSchema, domainEventTypeSchema, domainSubject } from "@turnout/contracts";
import { describe, expect, it } from "vitest";
import { DEFAULT_DOMAIN_STREAM, subjectIn } from "./outbox.ts";

describe("domain event names and subjects", () => {
  it("accepts versioned dotted types and nothing a subject could not carry", () => {
    for (const type of ["event.published.v1", "stats.changed.v12", "notification_sent.v2"]) {
      expect(domainEventTypeSchema.safeParse(type).success).toBe(true);
    }
    for (const type of [
      "event.published",
      "Event.published.v1",
      "event..v1",
      "event.*.v1",
      "event.>.v1",
      "event published.v1",
      ".v1",
    ]) {
      expect(domainEventTypeSchema.safeParse(type).success).toBe(false);
    }
  });

  it("publishes on domain.<type> by default and under a stream's own prefix otherwise", () => {
    const stored = domainSubject("event.published.v1");
    expect(stored).toBe("domain.event.published.v1");
    expect(subjectIn(DEFAULT_DOMAIN_STREAM, stored)).toBe(stored);
    expect(subjectIn({ name: "T1", subjectPrefix: "t1_domain" }, stored)).toBe(
      "t1_domain.event.published.v1",
    );
  });

  it("requires every envelope field, with the id being an outbox id", () => {
    const envelope = {
      id: "17",
      type: "event.published.v1",
      aggregateType: "event",
      aggregateId: "e1",
      occurredAt: "2026-11-22T05:00:00.000Z",
      data: { title: "x" },
    };
    expect(domainEventSchema.parse(envelope)).toEqual(envelope);
    expect(domainEventSchema.safeParse({ ...envelope, id: "abc" }).success).toBe(false);
    expect(domainEventSchema.safeParse({ ...envelope, occurredAt: "yesterday" }).success).toBe(false);
    expect(domainEventSchema.safeParse({ ...envelope, aggregateId: undefined }).success).toBe(false);
  });
});
