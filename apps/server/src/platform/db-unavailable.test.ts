import { describe, expect, it } from "vitest";
import { isDatabaseOutage } from "./db-unavailable.ts";

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe("isDatabaseOutage", () => {
  it.each([
    ["a refused connection", withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")],
    ["a reset socket", withCode("read ECONNRESET", "ECONNRESET")],
    ["SQLSTATE class 08", withCode("connection failure", "08006")],
    ["an administrator's shutdown", withCode("terminating connection due to administrator command", "57P01")],
    ["a server starting up", withCode("the database system is starting up", "57P03")],
    ["statement_timeout", withCode("canceling statement due to statement timeout", "57014")],
    ["too many connections", withCode("sorry, too many clients already", "53300")],
    ["a lost session", new Error("Connection terminated unexpectedly")],
    ["pg-pool's wait", new Error("timeout exceeded when trying to connect")],
    ["a wrapped cause", new Error("query failed", { cause: withCode("x", "ECONNREFUSED") })],
    ["one of several addresses", new AggregateError([withCode("x", "ECONNREFUSED")], "all failed")],
  ])("counts %s as an outage", (_name, error) => {
    expect(isDatabaseOutage(error)).toBe(true);
  });

  it.each([
    ["a unique violation", withCode("duplicate key value", "23505")],
    ["a syntax error", withCode('syntax error at or near "SELEC"', "42601")],
    ["NUL in text", withCode("invalid byte sequence for encoding", "22021")],
    ["a plain bug", new TypeError("cannot read properties of undefined")],
    ["a thrown string", "boom"],
  ])("counts %s as a bug, not an outage", (_name, error) => {
    expect(isDatabaseOutage(error)).toBe(false);
  });
});
