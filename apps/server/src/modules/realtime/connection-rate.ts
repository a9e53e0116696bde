/**
 * New connections per client address, counted in fixed one-minute windows (0 = off). Returns the seconds
 * until the window ends when `address` has used its share, else null (and counts the connection).
 */
export function createConnectionRateLimit(perMinute: number): (address: string) => number | null {
  let windowStart = 0;
  let counts = new Map<string, number>();
  return (address) => {
    if (perMinute === 0) return null;
    const now = Date.now();
    if (now - windowStart >= 60_000) {
      windowStart = now - (now % 60_000);
      counts = new Map();
    }
    const used = counts.get(address) ?? 0;
    if (used >= perMinute) return Math.ceil((windowStart + 60_000 - now) / 1000);
    counts.set(address, used + 1);
    return null;
  };
}
