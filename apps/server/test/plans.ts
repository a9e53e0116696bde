/**
 * The sequential scans of interaction day partitions in an EXPLAIN's text that read more than a few pages.
 * The planner rightly reads a partition of next to nothing whole: an empty day, or today's just after midnight,
 * when it holds a few minutes' rows. A whole scan of a day of generated volume costs thousands.
 */
export function sizablePartitionScans(plan: string): string[] {
  return plan
    .split("\n")
    .filter((line) => /Seq Scan on interactions_\d{8}/.test(line))
    .filter((line) => Number(/cost=[\d.]+\.\.([\d.]+)/.exec(line)?.[1] ?? Infinity) >= 100);
}
