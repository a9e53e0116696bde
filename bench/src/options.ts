/** Settings every scenario shares, from BENCH_* environment variables. */
export interface BenchOptions {
  durationS: number;
  connections: number;
}

/** What `npm run bench` got wrong; the runner prints the message and exits 2. */
export class UsageError extends Error {}

const DEFAULTS: BenchOptions = { durationS: 10, connections: 100 };
// Bounds keep a typo from running for hours or opening more sockets than the machine has descriptors.
const LIMITS = { durationS: 3_600, connections: 20_000 };

/** Reads BENCH_DURATION_S and BENCH_CONNECTIONS (positive integers); throws UsageError listing every bad one. */
export function readBenchOptions(env: Readonly<Record<string, string | undefined>>): BenchOptions {
  const problems: string[] = [];
  const read = (name: string, fallback: number, max: number): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (Number.isInteger(value) && value >= 1 && value <= max) return value;
    problems.push(`${name} must be an integer from 1 to ${max}, got "${raw}"`);
    return fallback;
  };
  const options = {
    durationS: read("BENCH_DURATION_S", DEFAULTS.durationS, LIMITS.durationS),
    connections: read("BENCH_CONNECTIONS", DEFAULTS.connections, LIMITS.connections),
  };
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return options;
}

/** Picks the one scenario named on the command line; throws UsageError naming the available ones otherwise. */
export function selectScenario(args: readonly string[], available: readonly string[]): string {
  const list = available.length > 0 ? available.join(", ") : "(none)";
  const [name, ...extra] = args;
  if (name === undefined || name === "")
    throw new UsageError(`Usage: npm run bench -- <scenario>\nAvailable scenarios: ${list}`);
  if (extra.length > 0)
    throw new UsageError(`Run one scenario at a time; got ${args.join(" ")}\nAvailable scenarios: ${list}`);
  if (!available.includes(name))
    throw new UsageError(`Unknown scenario "${name}".\nAvailable scenarios: ${list}`);
  return name;
}
