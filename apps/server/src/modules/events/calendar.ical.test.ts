import ICAL from "ical.js";
import { describe, expect, it } from "vitest";
import { escapeText, foldLine, formatUtc, serializeCalendar } from "./ical.ts";

const octets = (line: string) => Buffer.byteLength(line, "utf8");

describe("escapeText", () => {
  it("escapes backslash, semicolon, comma and every kind of line break", () => {
    expect(escapeText("a\\b;c,d\ne\r\nf\rg")).toBe("a\\\\b\\;c\\,d\\ne\\nf\\ng");
  });

  it("leaves colons, quotes and non-ASCII text alone", () => {
    expect(escapeText('Köln: "Straße" 🎉')).toBe('Köln: "Straße" 🎉');
  });
});

describe("foldLine", () => {
  it("leaves a line of exactly 75 octets whole", () => {
    const line = "x".repeat(75);
    expect(foldLine(line)).toBe(line);
  });

  it("folds ASCII into 75-octet lines, continuations led by one space", () => {
    const folded = foldLine("y".repeat(200));
    const lines = folded.split("\r\n");
    expect(lines.map(octets)).toEqual([75, 75, 1 + 200 - 75 - 74]);
    expect(lines.slice(1).every((line) => line.startsWith(" "))).toBe(true);
    expect(folded.replace(/\r\n /g, "")).toBe("y".repeat(200));
  });

  it("never splits a multi-byte character and never exceeds 75 octets", () => {
    // 2-, 3- and 4-byte characters (one of them a surrogate pair in JavaScript) at every offset.
    const line = `DESCRIPTION:${"é€😀".repeat(40)}`;
    const lines = foldLine(line).split("\r\n");
    expect(lines.length).toBeGreaterThan(5);
    for (const folded of lines) {
      expect(octets(folded)).toBeLessThanOrEqual(75);
      expect(folded).not.toContain("\uFFFD");
      expect(Buffer.from(folded, "utf8").toString("utf8")).toBe(folded);
      expect(/[\uD800-\uDBFF]$/.test(folded)).toBe(false);
    }
    expect(lines.join("\r\n").replace(/\r\n /g, "")).toBe(line);
  });
});

describe("serializeCalendar", () => {
  const calendar = serializeCalendar({
    name: "Test",
    timezone: "Europe/Berlin",
    events: [
      {
        uid: "e1@turnout",
        start: new Date("2026-12-01T18:30:00.000Z"),
        end: new Date("2026-12-01T20:00:00.000Z"),
        summary: "Beer, brats; and\nbands \\ more",
        description: "Ünïcödé ".repeat(30),
        location: "Hall 5, Main street 1",
        url: "https://turnout.test/events/e1",
        status: "CONFIRMED",
        sequence: 3,
        stamp: new Date("2026-11-22T00:00:00.000Z"),
        lastModified: new Date("2026-11-21T00:00:00.000Z"),
      },
    ],
  });

  it("uses CRLF line endings only and keeps every line within 75 octets", () => {
    expect(calendar.endsWith("\r\n")).toBe(true);
    expect(calendar.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    for (const line of calendar.split("\r\n")) expect(octets(line)).toBeLessThanOrEqual(75);
  });

  it("round-trips its text through an independent parser", () => {
    const parsed: unknown = ICAL.parse(calendar);
    if (!Array.isArray(parsed)) throw new Error("not one calendar");
    const vevent = new ICAL.Component(parsed).getFirstSubcomponent("vevent");
    expect(vevent).not.toBeNull();
    const event = new ICAL.Event(vevent ?? undefined);
    expect(event.summary).toBe("Beer, brats; and\nbands \\ more");
    expect(event.description).toBe("Ünïcödé ".repeat(30));
    expect(event.location).toBe("Hall 5, Main street 1");
    expect(event.sequence).toBe(3);
  });

  it("writes UTC times in the Z form without milliseconds", () => {
    expect(formatUtc(new Date("2026-12-01T18:30:05.123Z"))).toBe("20261201T183005Z");
    expect(calendar).toContain("\r\nDTSTART:20261201T183000Z\r\n");
  });
});
