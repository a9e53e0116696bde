import { interactionSchema, stampedInteractionSchema } from "@turnout/contracts";
import fc from "fast-check";
import { expect, it } from "vitest";
import { readInteraction, readStampedInteraction } from "./item-check.ts";

// Values near every limit of the contract, and of the wrong kind, so both answers are common.
const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) },
  fc.constant(""),
  fc.constantFrom("", "a".repeat(50), "a".repeat(51), "a".repeat(100), "a".repeat(101)),
  fc.constantFrom("b".repeat(200), "b".repeat(201), "c".repeat(1_000), "c".repeat(1_001), "d".repeat(2_001)),
);
const odd = fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}));
/** Mostly a value of the kind the field wants, sometimes another kind. */
const field = <T>(value: fc.Arbitrary<T>) => fc.oneof({ weight: 15, arbitrary: value }, odd);
/** The same, or missing. */
const maybe = <T>(value: fc.Arbitrary<T>) => fc.option(field(value), { nil: undefined, freq: 3 });
const timestamp = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .date({ min: new Date("1990-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
      .map((date) => date.toISOString()),
  },
  fc.constantFrom(
    "2026-12-06T10:00:00Z",
    "2026-12-06T10:00:00+01:00",
    "2026-12-06T10:00:00.123456+05:30",
    "2026-12-06T10:00Z",
    "2026-02-29T10:00:00Z",
    "2028-02-29T10:00:00Z",
    "2026-12-06 10:00:00Z",
    "2026-12-06T24:00:00Z",
    "2026-12-06T10:00:00",
    "yesterday",
  ),
);
const side = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -2, max: 100_002 }) },
  fc.double(),
  fc.constantFrom(0, 100_000, 100_001, 1.5),
);
const properties = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.constantFrom({ big: "x".repeat(8_180) }, { big: "x".repeat(8_185) }, { wide: "é".repeat(4_090) }),
);
const context = fc.record(
  {
    page: maybe(
      fc.record(
        { path: field(text), url: maybe(text), title: maybe(text), referrer: maybe(text), extra: text },
        { requiredKeys: [] },
      ),
    ),
    userAgent: maybe(text),
    locale: maybe(text),
    screen: maybe(fc.record({ width: field(side), height: field(side) })),
    campaign: text,
  },
  { requiredKeys: [] },
);
const interaction = fc.record(
  {
    id: field(text),
    type: field(fc.constantFrom("page", "track", "identify", "screen")),
    name: maybe(text),
    timestamp: field(timestamp),
    anonymousId: field(text),
    userId: maybe(text),
    sessionId: maybe(text),
    properties: maybe(properties),
    context: maybe(context),
    unknownField: text,
  },
  { requiredKeys: ["id", "type", "timestamp", "anonymousId"] },
);
const item = fc.oneof({ weight: 9, arbitrary: interaction }, { weight: 1, arbitrary: fc.jsonValue() });

it("accepts only what zod accepts, with zod's output, and accepts the valid items zod accepts", () => {
  let accepted = 0;
  fc.assert(
    fc.property(item, (value) => {
      const zod = interactionSchema.safeParse(value);
      const read = readInteraction(value);
      expect(read === undefined ? undefined : JSON.stringify(read)).toBe(
        zod.success ? JSON.stringify(zod.data) : undefined,
      );
      if (read !== undefined) accepted++;
    }),
    { numRuns: 5_000 },
  );
  // The generator must make both answers common, or the comparison proves little. About one in ten is
  // accepted (480 to 620 of 5,000 seen), so the floor sits well below what a random run can reach.
  expect(accepted).toBeGreaterThan(250);
  expect(accepted).toBeLessThan(4_500);
}, 60_000);

it("checks a stamped item from the stream as stampedInteractionSchema does", () => {
  const stamps = fc.record(
    {
      sourceId: field(fc.string()),
      receivedAt: field(fc.string()),
      ip: fc.oneof(fc.constant(null), fc.string(), fc.integer()),
      device: field(fc.string()),
      browser: field(fc.string()),
      os: field(fc.string()),
    },
    { requiredKeys: ["sourceId", "receivedAt", "ip", "device", "browser", "os"] },
  );
  let accepted = 0;
  fc.assert(
    fc.property(interaction, stamps, (value, stamp) => {
      const stamped = { ...value, ...stamp };
      const zod = stampedInteractionSchema.safeParse(stamped);
      const read = readStampedInteraction(stamped);
      expect(read === undefined ? undefined : JSON.stringify(read)).toBe(
        zod.success ? JSON.stringify(zod.data) : undefined,
      );
      if (read !== undefined) accepted++;
    }),
    { numRuns: 3_000 },
  );
  expect(accepted).toBeGreaterThan(100);
  expect(accepted).toBeLessThan(2_700);
}, 60_000);

it("accepts a typical tracker item", () => {
  const item = {
    id: "a-1",
    type: "track",
    name: "clicked",
    timestamp: "2026-12-06T10:00:00.000Z",
    anonymousId: "visitor-1",
    properties: { eventId: "00000000-0000-7000-8000-000000000042", button: "join" },
    context: {
      page: { path: "/events/x", referrer: "https://search.test/" },
      screen: { width: 1280, height: 800 },
    },
  };
  expect(readInteraction(item)).toEqual(interactionSchema.parse(item));
});
