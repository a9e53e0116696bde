/** How a retry loop spaces its attempts: the first delay, doubled per retry up to a ceiling. */
export interface BackoffPolicy {
  firstMs: number;
  maxMs: number;
}

/**
 * The delay before retry number `retry` (1 for the first retry): firstMs doubled per retry, capped at maxMs,
 * then jittered to between half and all of it. Jitter because the processes that failed together (a bus or
 * database outage hits every consumer and relay at once) would otherwise retry in lockstep and hit the
 * recovering service together; keeping the upper half bounds how early a retry can come.
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  retry: number,
  random: () => number = Math.random,
): number {
  // Past ~30 doublings every delay is at the cap; stopping there keeps 2 ** n finite for any retry count.
  const doublings = Math.min(Math.max(retry, 1) - 1, 30);
  const ceiling = Math.min(policy.firstMs * 2 ** doublings, policy.maxMs);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
