import { type ErrorCode, ERROR_CODES } from "@turnout/contracts";
import { describe, expect, it } from "vitest";
import { de, en } from "../i18n/messages.ts";
import { ApiError, describeError } from "./errors.ts";

describe("describeError", () => {
  it("says every stable error code in the page's language, never the server's message", () => {
    for (const code of ERROR_CODES) {
      const error = new ApiError(400, code, `server text for ${code}`);
      expect(describeError(error, de)).toBe(de.errorCodes[code]);
      expect(describeError(error, en)).toBe(en.errorCodes[code]);
      expect(de.errorCodes[code]).not.toBe(en.errorCodes[code]);
    }
  });

  it("falls back to the server's message for a code this app does not know yet", () => {
    // What a newer server's code looks like here: the client decodes the body without checking the code.
    const code = JSON.parse('"photo.quota_exceeded"') as ErrorCode;
    expect(describeError(new ApiError(409, code, "You have uploaded too many photos."), de)).toBe(
      "You have uploaded too many photos.",
    );
  });

  it("says a network failure, or anything that is no API answer, as a network failure", () => {
    expect(describeError(new ApiError(0, "network", "The server cannot be reached."), de)).toBe(
      de.errorNetwork,
    );
    expect(describeError(new TypeError("Failed to fetch"), de)).toBe(de.errorNetwork);
  });
});
