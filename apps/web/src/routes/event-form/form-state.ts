import {
  type CreateEventBody,
  type Event,
  type EventCategory,
  type EventVisibility,
} from "@turnout/contracts";
import { isoToWallTime, viewerTimeZone, wallTimeToIso } from "../../lib/format.ts";

/** The form as typed: text everywhere, turned into the API's body only on submit. */
export interface FormState {
  title: string;
  description: string;
  startsAt: string;
  endsAt: string;
  timezone: string;
  venueName: string;
  venueAddress: string;
  onlineUrl: string;
  category: EventCategory;
  tags: string;
  capacity: string;
  waitlistLimit: string;
  visibility: EventVisibility;
  coverPhotoUrl: string;
}

export function emptyForm(): FormState {
  return {
    title: "",
    description: "",
    startsAt: "",
    endsAt: "",
    timezone: viewerTimeZone(),
    venueName: "",
    venueAddress: "",
    onlineUrl: "",
    category: "community",
    tags: "",
    capacity: "",
    waitlistLimit: "",
    visibility: "public",
    coverPhotoUrl: "",
  };
}

export function formFromEvent(event: Event): FormState {
  return {
    title: event.title,
    description: event.description,
    startsAt: isoToWallTime(event.startsAt, event.timezone),
    endsAt: isoToWallTime(event.endsAt, event.timezone),
    timezone: event.timezone,
    venueName: event.venue?.name ?? "",
    venueAddress: event.venue?.address ?? "",
    onlineUrl: event.onlineUrl ?? "",
    category: event.category,
    tags: event.tags.join(", "),
    capacity: event.capacity === null ? "" : String(event.capacity),
    waitlistLimit: event.waitlistLimit === null ? "" : String(event.waitlistLimit),
    visibility: event.visibility,
    coverPhotoUrl: event.coverPhotoUrl ?? "",
  };
}

/**
 * The body the API receives. Nothing is checked here: whatever is wrong comes back from the server as
 * `details[]` and is shown on its field, so the rules live in one place (the contracts).
 */
export function bodyFromForm(form: FormState): CreateEventBody {
  const hasVenue = form.venueName.trim() !== "" || form.venueAddress.trim() !== "";
  const body = {
    title: form.title,
    description: form.description,
    startsAt: toInstant(form.startsAt, form.timezone),
    endsAt: toInstant(form.endsAt, form.timezone),
    timezone: form.timezone,
    venue: hasVenue ? { name: form.venueName, address: form.venueAddress } : null,
    onlineUrl: form.onlineUrl.trim() === "" ? null : form.onlineUrl.trim(),
    category: form.category,
    tags: form.tags
      .split(",")
      .map((tag) => tag.trim())
      .filter((tag) => tag !== ""),
    capacity: toCount(form.capacity),
    waitlistLimit: toCount(form.waitlistLimit),
    visibility: form.visibility,
    coverPhotoUrl: form.coverPhotoUrl.trim() === "" ? null : form.coverPhotoUrl.trim(),
  };
  // Text the server refuses (an unparseable time or count) is sent as typed, so its message names the field.
  return body as CreateEventBody;
}

function toInstant(wall: string, timeZone: string): string {
  if (wall === "") return "";
  try {
    return wallTimeToIso(wall, timeZone) ?? wall;
  } catch {
    return wall;
  }
}

function toCount(text: string): number | string | null {
  if (text.trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}
