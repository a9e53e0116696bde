import type { Interaction, InteractionStamp } from "@turnout/contracts";
import fc from "fast-check";
import { expect, it } from "vitest";
import {
  COPY_COLUMNS,
  parseCopyLine,
  splitCopyLines,
  timeOfCopyLine,
  toCopyLine,
  toStampText,
} from "./copy-line.ts";

// Strings rich in what COPY's text format escapes (backslash, tab, newline, carriage return) and in \N.
const tricky = fc.string({
  unit: fc.constantFrom("a", "é", "\\", "\t", "\n", "\r", "N", '"', " ", "😀"),
  maxLength: 12,
});
const nonEmpty = tricky.filter((value) => value !== "");

const stamp: InteractionStamp = {
  sourceId: "00000000-0000-7000-8000-000000000001",
  receivedAt: "2026-12-06T10:00:00.000Z",
  ip: null,
  device: "desktop",
  browser: "Firefox",
  os: "Linux",
};

it("reads back from a line exactly the values the processor stores (escapes and NULLs included)", () => {
  fc.assert(
    fc.property(
      nonEmpty,
      fc.option(tricky, { nil: undefined }),
      nonEmpty,
      fc.option(nonEmpty, { nil: undefined }),
      fc.option(tricky, { nil: undefined }),
      tricky,
      (id, name, anonymousId, userId, path, note) => {
        const item: Interaction = {
          id,
          type: "track",
          name,
          timestamp: "2026-12-06T09:59:58.123Z",
          anonymousId,
          userId,
          sessionId: undefined,
          properties: { eventId: "00000000-0000-7000-8000-00000000abcd", note },
          context: path === undefined ? undefined : { page: { path, referrer: "" } },
        };
        const line = toCopyLine(item, toStampText(stamp));
        expect(line.endsWith("\n")).toBe(true);
        expect(splitCopyLines(line + line)).toEqual([line, line]);
        expect(timeOfCopyLine(line)).toBe(Date.parse(item.timestamp));
        const values = parseCopyLine(line);
        expect(values).toHaveLength(COPY_COLUMNS.length);
        expect(Object.fromEntries(COPY_COLUMNS.map((column, index) => [column, values?.[index]]))).toEqual({
          id,
          type: "track",
          name: name ?? null,
          timestamp: item.timestamp,
          anonymous_id: anonymousId,
          user_id: userId ?? null,
          session_id: null,
          event_id: "00000000-0000-7000-8000-00000000abcd",
          path: path ?? null,
          referrer: null,
          properties: JSON.stringify(item.properties),
          context: item.context === undefined ? null : JSON.stringify(item.context),
          source_id: stamp.sourceId,
          received_at: stamp.receivedAt,
          ip: null,
          device: "desktop",
          browser: "Firefox",
          os: "Linux",
          country: null,
        });
      },
    ),
  );
});

it("refuses a line that has not a value for every column", () => {
  expect(parseCopyLine("a\tb\n")).toBeUndefined();
  expect(timeOfCopyLine("a\tb\n")).toBeNaN();
});
