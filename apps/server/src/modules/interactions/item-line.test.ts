import type { InteractionStamp } from "@turnout/contracts";
import fc from "fast-check";
import { expect, it } from "vitest";
import { batchOfRequest } from "./accept-batch.ts";
import { toStampText } from "./copy-line.ts";
import { appendedBatchOf } from "./interaction-stream.ts";
import { readInteraction, readInteractionLine } from "./item-check.ts";

// The collector writes an item's COPY line straight from the parsed item (readInteractionLine). Its text must
// be exactly what the earlier path wrote (readInteraction's object, the time rewritten as acceptBatch did, then
// toCopyLine through appendedBatchOf), byte for byte: the stream's format 3 does not change.

const stamp: InteractionStamp = {
  sourceId: "00000000-0000-7000-8000-000000000001",
  receivedAt: "2026-12-06T10:00:00.000Z",
  ip: "203.0.113.0",
  device: "desktop",
  browser: "Firefox",
  os: "Linux",
};
const receivedAt = new Date(stamp.receivedAt);

/** The earlier path, as it was: readInteraction, the time rewritten, appendedBatchOf. */
function earlierLine(item: unknown): { line: string; hour: number } | undefined {
  const interaction = readInteraction(item);
  if (interaction === undefined) return undefined;
  interaction.timestamp =
    Date.parse(interaction.timestamp) > receivedAt.getTime()
      ? receivedAt.toISOString()
      : /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(interaction.timestamp)
        ? interaction.timestamp
        : new Date(interaction.timestamp).toISOString();
  const batch = appendedBatchOf(stamp, [interaction]);
  return { line: batch.lines[0] ?? "", hour: batch.hours[0] ?? -1 };
}

// Strings rich in what COPY escapes, in JSON escapes and in what is not ASCII.
const tricky = fc.string({
  unit: fc.constantFrom("a", "Z", "é", "\\", "\t", "\n", "\r", "N", '"', " ", "😀", "\u2028", "\u0001", "/"),
  maxLength: 12,
});
const nonEmpty = tricky.filter((value) => value !== "");
const odd = fc.constantFrom(null, 0, true, [], {});
const maybe = <T>(value: fc.Arbitrary<T>) =>
  fc.option(fc.oneof({ weight: 8, arbitrary: value }, odd), { nil: undefined, freq: 3 });
const timestamp = fc.oneof(
  fc
    .date({ min: new Date("2000-01-01"), max: new Date("2030-01-01"), noInvalidDate: true })
    .map((date) => date.toISOString()),
  fc.constantFrom(
    "2026-12-06T09:59:59.999Z",
    "2026-12-06T10:00:00.001Z",
    "2026-12-06T10:00:00Z",
    "2026-12-06T10:30:00+01:00",
    "2026-12-06T11:30:00.123456+01:00",
    "2026-12-06T09:00:00.5-00:30",
    "2026-12-05T23:59:59.999999Z",
  ),
);
const eventId = fc.oneof(
  fc.uuid(),
  fc.constantFrom("00000000-0000-7000-8000-00000000ABCD", "not-a-uuid", "", null, 42),
);
const properties = fc.oneof(
  fc.record(
    {
      eventId,
      note: tricky,
      list: fc.array(fc.oneof(tricky, fc.integer(), fc.constant(null)), { maxLength: 3 }),
      nested: fc.dictionary(tricky, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      empty: fc.constant(null),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(tricky, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  fc.constantFrom({ big: "x".repeat(8_185) }, { wide: "é".repeat(4_000) }),
);
const context = fc.record(
  {
    page: maybe(
      fc.record(
        { path: tricky, url: maybe(tricky), title: maybe(tricky), referrer: maybe(tricky), extra: tricky },
        { requiredKeys: [] },
      ),
    ),
    userAgent: maybe(tricky),
    locale: maybe(tricky),
    screen: maybe(
      fc.record({ width: fc.integer({ min: -1, max: 100_001 }), height: fc.integer({ min: 0, max: 2_000 }) }),
    ),
    campaign: tricky,
  },
  { requiredKeys: [] },
);
const item = fc.record(
  {
    id: fc.oneof({ weight: 8, arbitrary: nonEmpty }, odd),
    type: fc.constantFrom("page", "track", "identify", "screen"),
    name: maybe(tricky),
    timestamp,
    anonymousId: fc.oneof({ weight: 8, arbitrary: nonEmpty }, odd),
    userId: maybe(nonEmpty),
    sessionId: maybe(nonEmpty),
    properties: maybe(properties),
    context: maybe(context),
    unknownField: tricky,
  },
  { requiredKeys: ["id", "type", "timestamp", "anonymousId"] },
);

it("writes every item's line and hour exactly as the earlier path did (escapes, unicode, nulls)", () => {
  let written = 0;
  fc.assert(
    fc.property(item, (value) => {
      const line = readInteractionLine(value, toStampText(stamp), receivedAt);
      expect(line).toEqual(earlierLine(value));
      if (line !== undefined) written++;
    }),
    { numRuns: 5_000 },
  );
  // Both answers must be common, or the comparison proves little.
  expect(written).toBeGreaterThan(500);
  expect(written).toBeLessThan(4_500);
}, 60_000);

it("appends for a request what the earlier path appended (items zod decides included)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof({ weight: 9, arbitrary: item }, fc.jsonValue()), { maxLength: 8 }),
      (items) => {
        const { appended } = batchOfRequest(items, stamp, { receivedAt });
        const earlier = items.map(earlierLine).filter((line) => line !== undefined);
        expect(appended?.lines ?? []).toEqual(earlier.map((line) => line.line));
        expect(appended?.hours ?? []).toEqual(earlier.map((line) => line.hour));
      },
    ),
    { numRuns: 1_000 },
  );
}, 60_000);
