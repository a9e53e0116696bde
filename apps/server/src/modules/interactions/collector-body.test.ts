import fc from "fast-check";
import { expect, it } from "vitest";
import { findUnstorableStrings } from "../../platform/validation.ts";
import { scanJsonText } from "./collector-body.ts";

function depthOf(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

// Strings with quotes, backslashes, brackets, NULs and surrogate halves, alone and paired.
const tricky = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.constantFrom('"', "\\", "{[", "]}", "\u0000", "\ud800", "\udfff", "\ud83d\ude00", "\\u0000", "a\\"),
);
const plain = fc.string({ unit: fc.constantFrom("a", "{", "[", "]", "}", ",", ":", " ", "é") });
const jsonOf = (text: fc.Arbitrary<string>) =>
  fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      text,
      fc.integer(),
      fc.constant(null),
      fc.array(tie("value"), { maxLength: 3 }),
      fc.dictionary(text, tie("value"), { maxKeys: 3 }),
    ),
  })).value;
const json = jsonOf(tricky);
// Without a backslash in the text: the path that skips strings whole.
const jsonWithoutEscapes = jsonOf(plain);

it("reads the nesting depth of a JSON text as deep as the parsed value", () => {
  for (const values of [json, jsonWithoutEscapes]) {
    fc.assert(
      fc.property(values, (value) => {
        const text = JSON.stringify(value);
        expect(scanJsonText(text).depth).toBe(depthOf(JSON.parse(text)));
      }),
      { numRuns: 2_000 },
    );
  }
  expect(scanJsonText("[".repeat(70) + "]".repeat(70)).depth).toBe(70);
});

it("finds an escape behind every string PostgreSQL cannot store", () => {
  let unstorable = 0;
  fc.assert(
    fc.property(json, (value) => {
      const text = JSON.stringify(value);
      if (findUnstorableStrings(JSON.parse(text)).length > 0) {
        unstorable++;
        expect(scanJsonText(text).hasRiskyEscape).toBe(true);
      }
    }),
    { numRuns: 2_000 },
  );
  expect(unstorable).toBeGreaterThan(100);
  // Escapes a client may write by hand, in either case.
  expect(scanJsonText('{"a":"x\\u0000"}').hasRiskyEscape).toBe(true);
  expect(scanJsonText('{"a":"\\uDBFF"}').hasRiskyEscape).toBe(true);
  expect(scanJsonText('{"a":"\\udc00"}').hasRiskyEscape).toBe(true);
  expect(scanJsonText('{"a":"\\\\u0000 is text"}').hasRiskyEscape).toBe(false);
  expect(scanJsonText('{"a":"caf\\u00e9 \\n"}').hasRiskyEscape).toBe(false);
});
