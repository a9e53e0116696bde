/*
 * A small iCalendar (RFC 5545) writer: just what Turnout's exports need. Times are written in UTC (the Z
 * form), so no VTIMEZONE has to be generated; the event's own zone travels as X-WR-TIMEZONE for clients
 * that display in it.
 */

/** One VEVENT, its text fields unescaped. */
export interface IcalEvent {
  uid: string;
  start: Date;
  end: Date;
  summary: string;
  description: string;
  location: string | null;
  url: string;
  status: "TENTATIVE" | "CONFIRMED" | "CANCELLED";
  sequence: number;
  /** When this copy was made (DTSTAMP). */
  stamp: Date;
  lastModified: Date;
}

/** A VCALENDAR with METHOD:PUBLISH. */
export interface IcalCalendar {
  name: string;
  /** An IANA zone for X-WR-TIMEZONE, or null when the events do not share one. */
  timezone: string | null;
  events: readonly IcalEvent[];
}

const MAX_LINE_OCTETS = 75;

/** Escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and every line break. */
export function escapeText(value: string): string {
  return value.replace(/[\\;,]/g, (character) => `\\${character}`).replace(/\r\n|\r|\n/g, "\\n");
}

/**
 * Folds one content line into lines of at most 75 octets (RFC 5545 3.1), each continuation starting with a
 * space, joined by CRLF. It cuts between code points only, so a multi-byte UTF-8 character is never split.
 */
export function foldLine(line: string): string {
  const lines: string[] = [];
  let current = "";
  let octets = 0;
  for (const character of line) {
    const size = Buffer.byteLength(character, "utf8");
    if (octets + size > MAX_LINE_OCTETS) {
      lines.push(current);
      current = " ";
      octets = 1;
    }
    current += character;
    octets += size;
  }
  lines.push(current);
  return lines.join("\r\n");
}

/** A UTC DATE-TIME in the Z form: 20261122T183000Z (seconds kept, milliseconds dropped). */
export function formatUtc(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
}

/** The whole calendar as text/calendar: CRLF line endings, every line folded. */
export function serializeCalendar(calendar: IcalCalendar): string {
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Turnout//Turnout Events//EN",
    "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH",
    `X-WR-CALNAME:${escapeText(calendar.name)}`,
    ...(calendar.timezone === null ? [] : [`X-WR-TIMEZONE:${escapeText(calendar.timezone)}`]),
    ...calendar.events.flatMap(eventLines),
    "END:VCALENDAR",
  ];
  return lines.map(foldLine).join("\r\n") + "\r\n";
}

function eventLines(event: IcalEvent): string[] {
  return [
    "BEGIN:VEVENT",
    `UID:${escapeText(event.uid)}`,
    `DTSTAMP:${formatUtc(event.stamp)}`,
    `DTSTART:${formatUtc(event.start)}`,
    `DTEND:${formatUtc(event.end)}`,
    `SUMMARY:${escapeText(event.summary)}`,
    ...(event.description === "" ? [] : [`DESCRIPTION:${escapeText(event.description)}`]),
    ...(event.location === null ? [] : [`LOCATION:${escapeText(event.location)}`]),
    // URL is a URI value, not TEXT: it is written as is, never escaped.
    `URL:${event.url}`,
    `STATUS:${event.status}`,
    `SEQUENCE:${event.sequence}`,
    `LAST-MODIFIED:${formatUtc(event.lastModified)}`,
    "END:VEVENT",
  ];
}
