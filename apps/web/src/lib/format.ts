import type { Event } from "@turnout/contracts";

/** Seats still free, or null when the event has no limit. */
export function seatsLeft(capacity: number | null, confirmed: number): number | null {
  return capacity === null ? null : Math.max(0, capacity - confirmed);
}

/** A link to the venue on OpenStreetMap: by coordinates when known, else a search for the address. */
export function mapLink(venue: NonNullable<Event["venue"]>): string {
  if (venue.lat !== undefined && venue.lng !== undefined)
    return `https://www.openstreetmap.org/?mlat=${venue.lat}&mlon=${venue.lng}#map=17/${venue.lat}/${venue.lng}`;
  return `https://www.openstreetmap.org/search?query=${encodeURIComponent(`${venue.name}, ${venue.address}`)}`;
}

/** The viewer's time zone (the browser's). */
export function viewerTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * The instant at which the clock on the wall in `timeZone` reads `wall` ("2026-12-24T18:00", what a
 * datetime-local input gives). Two passes settle the zone's offset at that moment, daylight saving included.
 */
export function wallTimeToIso(wall: string, timeZone: string): string | null {
  // V8's Date.parse accepts almost anything ("tomorrow:00Z" is 2000-01-01): only the input's own shape.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(wall)) return null;
  const asUtc = Date.parse(`${wall}:00Z`);
  if (Number.isNaN(asUtc)) return null;
  let guess = asUtc - offsetMs(asUtc, timeZone);
  guess = asUtc - offsetMs(guess, timeZone);
  return new Date(guess).toISOString();
}

/** The reverse: what the wall clock in `timeZone` reads at `iso`, as "YYYY-MM-DDTHH:mm". */
export function isoToWallTime(iso: string, timeZone: string): string {
  const time = Date.parse(iso);
  return new Date(time + offsetMs(time, timeZone)).toISOString().slice(0, 16);
}

function offsetMs(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value ?? 0);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return wall - Math.floor(instant / 1000) * 1000;
}
