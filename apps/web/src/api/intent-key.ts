import { useRef } from "react";
import { newIdempotencyKey } from "./client.ts";
import { isApiError } from "./errors.ts";

/**
 * One Idempotency-Key per user intent (API.md "Idempotency"). The key is kept while an attempt may have
 * reached the server unanswered (a network failure), so trying again cannot do the thing twice; any answer
 * ends the intent, and the next submit (after fixing a field, say) is a new request with a new key. The same
 * key with a different body would be refused as idempotency.mismatch.
 */
export function useIntentKey(): { keyFor: (intent: string) => string; settle: (error?: unknown) => void } {
  const current = useRef<{ intent: string; key: string } | null>(null);
  return {
    keyFor(intent) {
      if (current.current?.intent !== intent) current.current = { intent, key: newIdempotencyKey() };
      return current.current.key;
    },
    settle(error) {
      if (error === undefined || !isApiError(error, "network")) current.current = null;
    },
  };
}
