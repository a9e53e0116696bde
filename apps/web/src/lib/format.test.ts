import { describe, expect, it } from "vitest";
import { ApiError } from "../api/errors.ts";
import { isoToWallTime, mapLink, seatsLeft, wallTimeToIso } from "./format.ts";

describe("wall times in an event's time zone", () => {
  it.each([
    { wall: "2027-03-12T19:00", zone: "Europe/Berlin", iso: "2027-03-12T18:00:00.000Z" }, // winter, +01:00
    { wall: "2027-07-12T19:00", zone: "Europe/Berlin", iso: "2027-07-12T17:00:00.000Z" }, // summer, +02:00
    { wall: "2027-03-28T03:30", zone: "Europe/Berlin", iso: "2027-03-28T01:30:00.000Z" }, // just after the jump
    { wall: "2027-11-07T12:00", zone: "America/New_York", iso: "2027-11-07T17:00:00.000Z" },
    { wall: "2027-01-01T00:00", zone: "Asia/Kolkata", iso: "2026-12-31T18:30:00.000Z" },
    { wall: "2027-01-01T00:00", zone: "UTC", iso: "2027-01-01T00:00:00.000Z" },
  ])("$wall in $zone is $iso, and back", ({ wall, zone, iso }) => {
    expect(wallTimeToIso(wall, zone)).toBe(iso);
    expect(isoToWallTime(iso, zone)).toBe(wall);
  });

  it("refuses text that is no wall time", () => {
    expect(wallTimeToIso("tomorrow", "UTC")).toBeNull();
  });
});

describe("small formatting rules", () => {
  it("counts seats left, never below zero, none for unlimited events", () => {
    expect(seatsLeft(10, 3)).toBe(7);
    expect(seatsLeft(1, 2)).toBe(0);
    expect(seatsLeft(null, 5)).toBeNull();
  });

  it("links a venue by coordinates when known, else by a search for its name and address", () => {
    expect(mapLink({ name: "Hall", address: "Main St 1", lat: 52.5, lng: 13.4 })).toBe(
      "https://www.openstreetmap.org/?mlat=52.5&mlon=13.4#map=17/52.5/13.4",
    );
    expect(mapLink({ name: "Hall", address: "Main St 1" })).toBe(
      "https://www.openstreetmap.org/search?query=Hall%2C%20Main%20St%201",
    );
  });
});

describe("ApiError.fieldErrors", () => {
  it("maps validation details to their paths, first message per path", () => {
    const error = new ApiError(400, "validation.failed", "Invalid", [
      { path: "endsAt", message: "must be after startsAt" },
      { path: "venue.name", message: "too short" },
      { path: "venue.name", message: "second message" },
      { nonsense: true },
    ]);
    expect(error.fieldErrors()).toEqual({ endsAt: "must be after startsAt", "venue.name": "too short" });
  });

  it("has none for other codes", () => {
    expect(new ApiError(409, "event.full", "Full", [{ path: "x", message: "y" }]).fieldErrors()).toEqual({});
  });
});
