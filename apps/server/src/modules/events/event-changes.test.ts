import { expect, it } from "vitest";
import { diffEvent } from "./event-changes.ts";
import type { EventRecord } from "./events.repo.ts";

const stored: EventRecord = {
  id: "0190a6b4-1234-7000-8000-00000000abcd",
  organizerId: "0190a6b4-1234-7000-8000-000000000001",
  organizerName: "Olga",
  title: "Rust meetup",
  description: "",
  startsAt: new Date("2026-05-01T10:00:00.000Z"),
  endsAt: new Date("2026-05-01T12:00:00.000Z"),
  timezone: "Europe/Berlin",
  venue: { name: "Hall", address: "Main street 1", lat: 52.5 },
  onlineUrl: null,
  category: "tech",
  tags: ["rust", "systems"],
  capacity: 10,
  waitlistLimit: null,
  visibility: "public",
  status: "published",
  cancelReason: null,
  coverPhotoUrl: null,
  version: 1,
  createdAt: new Date("2026-04-01T00:00:00Z"),
  updatedAt: new Date("2026-04-01T00:00:00Z"),
};

it("ignores fields sent with their stored value, in any spelling of the same instant", () => {
  const { changedFields } = diffEvent(stored, {
    title: "Rust meetup",
    startsAt: "2026-05-01T12:00:00+02:00",
    venue: { name: "Hall", address: "Main street 1", lat: 52.5 },
    tags: ["rust", "systems", "rust"],
    capacity: 10,
    onlineUrl: null,
  });
  expect(changedFields).toEqual([]);
});

it("reports each changed field with its stored form", () => {
  const { patch, changedFields } = diffEvent(stored, {
    endsAt: "2026-05-01T13:00:00Z",
    venue: { name: "Hall", address: "Main street 1" },
    tags: ["systems", "rust"],
    capacity: null,
    waitlistLimit: 0,
  });
  expect(changedFields).toEqual(["endsAt", "venue", "tags", "capacity", "waitlistLimit"]);
  expect(patch).toEqual({
    endsAt: new Date("2026-05-01T13:00:00Z"),
    venue: { name: "Hall", address: "Main street 1" },
    tags: ["systems", "rust"],
    capacity: null,
    waitlistLimit: 0,
  });
});
