import { describe, expect, it } from "vitest";
import { readBenchOptions, selectScenario, UsageError } from "./options.ts";

describe("readBenchOptions", () => {
  it("defaults to 10 s and 100 connections", () => {
    expect(readBenchOptions({})).toEqual({ durationS: 10, connections: 100 });
  });

  it("reads both variables", () => {
    expect(readBenchOptions({ BENCH_DURATION_S: " 3 ", BENCH_CONNECTIONS: "250" })).toEqual({
      durationS: 3,
      connections: 250,
    });
  });

  it("lists every bad value at once", () => {
    expect(() => readBenchOptions({ BENCH_DURATION_S: "0", BENCH_CONNECTIONS: "1.5" })).toThrow(
      /BENCH_DURATION_S must be an integer from 1 to 3600, got "0"\nBENCH_CONNECTIONS must be an integer from 1 to 20000, got "1.5"/,
    );
    expect(() => readBenchOptions({ BENCH_DURATION_S: "999999" })).toThrow(UsageError);
  });
});

describe("selectScenario", () => {
  const available = ["baseline", "joins"];

  it("returns the one named scenario", () => {
    expect(selectScenario(["joins"], available)).toBe("joins");
  });

  it("names the available scenarios for an unknown, missing or doubled name", () => {
    expect(() => selectScenario(["nope"], available)).toThrow(
      /Unknown scenario "nope".\nAvailable scenarios: baseline, joins/,
    );
    expect(() => selectScenario([], available)).toThrow(
      /Usage: npm run bench -- <scenario>\nAvailable scenarios: baseline, joins/,
    );
    expect(() => selectScenario(["baseline", "joins"], available)).toThrow(/one scenario at a time/);
  });
});
