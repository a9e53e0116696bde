import type { ErrorCode, ValidationDetail } from "@turnout/contracts";

/** An answer of the API that was not 2xx, decoded from the contract's error body (API.md "Conventions"). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | "network",
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The `details[]` of a 400 `validation.failed`, by field path ("venue.name"; "" for the body itself). */
  fieldErrors(): Record<string, string> {
    if (this.code !== "validation.failed" || !Array.isArray(this.details)) return {};
    const fields: Record<string, string> = {};
    for (const item of this.details as unknown[]) {
      if (!isDetail(item)) continue;
      fields[item.path] ??= item.message;
    }
    return fields;
  }
}

function isDetail(item: unknown): item is ValidationDetail {
  return (
    typeof item === "object" &&
    item !== null &&
    typeof (item as { path?: unknown }).path === "string" &&
    typeof (item as { message?: unknown }).message === "string"
  );
}

export function isApiError(error: unknown, code?: ApiError["code"]): error is ApiError {
  return error instanceof ApiError && (code === undefined || error.code === code);
}

/**
 * An error said in the page's language: the text for its stable code, or the server's own message only for a
 * code this app does not know yet (a newer server); anything that is no API answer is a network failure.
 */
export function describeError(
  error: unknown,
  texts: { errorNetwork: string; errorCodes: Record<ErrorCode, string> },
): string {
  if (!(error instanceof ApiError) || error.code === "network") return texts.errorNetwork;
  const known: Partial<Record<string, string>> = texts.errorCodes;
  return known[error.code] ?? error.message;
}
