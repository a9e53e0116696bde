import { expect, it } from "vitest";
import { formatEtag, ifMatchAllows } from "./etag.ts";

it("formats a strong ETag and compares If-Match strongly", () => {
  expect(formatEtag(3)).toBe('"3"');
  expect(ifMatchAllows(undefined, 3)).toBe(true);
  expect(ifMatchAllows('"3"', 3)).toBe(true);
  expect(ifMatchAllows("*", 3)).toBe(true);
  expect(ifMatchAllows('"1", "3"', 3)).toBe(true);
  expect(ifMatchAllows('"2"', 3)).toBe(false);
  expect(ifMatchAllows('W/"3"', 3)).toBe(false);
  expect(ifMatchAllows("3", 3)).toBe(false);
  expect(ifMatchAllows('"33"', 3)).toBe(false);
});
